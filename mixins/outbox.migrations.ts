/**
 * The migrations of the `outbox_events` table. Each service using the outbox lists them among its
 * own: `outboxMigration` first, the others after the service's own migrations, so that their order
 * never changes.
 */
import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../lib/database/migrator";

/** Creates the `outbox_events` table; each service using the outbox lists it among its migrations. */
export const outboxMigration: Migration = {
	name: "000-create-outbox-events",
	async up(qi: QueryInterface) {
		await qi.createTable("outbox_events", {
			id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
			event_name: { type: DataTypes.STRING(100), allowNull: false },
			consumer_group: { type: DataTypes.STRING(100), allowNull: false },
			payload: { type: DataTypes.JSONB, allowNull: false },
			meta: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
			created_at: { type: DataTypes.DATE, allowNull: false, defaultValue: qi.sequelize.literal("now()") },
			sent_at: { type: DataTypes.DATE, allowNull: true },
			attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
			last_error: { type: DataTypes.TEXT, allowNull: true },
			claimed_until: { type: DataTypes.DATE, allowNull: true }
		});
		await qi.sequelize.query(
			"CREATE INDEX outbox_events_unsent_idx ON outbox_events (id) WHERE sent_at IS NULL"
		);
	},
	async down(qi: QueryInterface) {
		await qi.dropTable("outbox_events");
	}
};

/**
 * Marks events that failed for good in one process (no transporter): see `publishOutboxBatch`.
 * Listed after the service's own migrations, so that their order never changes.
 */
export const outboxFailuresMigration: Migration = {
	name: "100-outbox-failed-at",
	async up(qi: QueryInterface) {
		await qi.addColumn("outbox_events", "failed_at", { type: DataTypes.DATE, allowNull: true });
	},
	async down(qi: QueryInterface) {
		await qi.removeColumn("outbox_events", "failed_at");
	}
};

/**
 * Lets a failed event be seen and replayed as a dead letter: the name of its last error, the runs
 * made before its last replay (the delivery policy counts the runs after it), and its replays.
 */
export const outboxReplaysMigration: Migration = {
	name: "101-outbox-replays",
	async up(qi: QueryInterface) {
		await qi.addColumn("outbox_events", "last_error_name", { type: DataTypes.STRING(100), allowNull: true });
		await qi.addColumn("outbox_events", "prior_attempts", { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 });
		await qi.addColumn("outbox_events", "replays", { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 });
		await qi.sequelize.query("CREATE INDEX outbox_events_failed_idx ON outbox_events (failed_at) WHERE failed_at IS NOT NULL");
	},
	async down(qi: QueryInterface) {
		await qi.sequelize.query("DROP INDEX outbox_events_failed_idx");
		await qi.removeColumn("outbox_events", "replays");
		await qi.removeColumn("outbox_events", "prior_attempts");
		await qi.removeColumn("outbox_events", "last_error_name");
	}
};

/**
 * The trace context (W3C `traceparent`, `tracestate`) of the transaction that wrote the event, so
 * that the relay publishes it in the trace of the request that caused it (lib/tracing). Null when
 * tracing was off. Listed after the service's own migrations, so that their order never changes.
 */
export const outboxTraceContextMigration: Migration = {
	name: "102-outbox-trace-context",
	async up(qi: QueryInterface) {
		await qi.addColumn("outbox_events", "trace_context", { type: DataTypes.JSONB, allowNull: true });
	},
	async down(qi: QueryInterface) {
		await qi.removeColumn("outbox_events", "trace_context");
	}
};

/**
 * Keeps the relay's claim an index scan as sent rows pile up. The claim reads the partial index of
 * unsent rows; every row marked sent leaves a dead entry there until a vacuum. A plain index scan
 * marks those entries dead as it passes and skips them afterwards, but on a table without
 * statistics the planner takes a bitmap scan instead, which re-reads every one of them on each
 * claim (3–6 ms at ~3k rows, docs/benchmarks.md). So: statistics from the start, and autovacuum and
 * analyze after a fixed number of changed rows rather than a fraction of the table, which on a
 * large table would wait for millions. Listed after the service's own migrations.
 */
export const outboxAutovacuumMigration: Migration = {
	name: "103-outbox-autovacuum",
	async up(qi: QueryInterface) {
		await qi.sequelize.query(
			`ALTER TABLE outbox_events SET (
			   autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
			   autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 2000,
			   autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000)`
		);
		await qi.sequelize.query("ANALYZE outbox_events");
	},
	async down(qi: QueryInterface) {
		await qi.sequelize.query(
			`ALTER TABLE outbox_events RESET (
			   autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
			   autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold,
			   autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)`
		);
	}
};

/**
 * The relay's claim as a function that plans it the one way that stays fast: an index scan of the
 * unsent rows in id order, stopping after the batch. Planned from the table's statistics, the
 * claim takes a bitmap scan and sorts every unsent row whenever they look few — as they do on a new
 * table, before autovacuum's first analyze (up to a minute) — and under a backlog of 12k rows
 * that is 57 ms per claim, which made the backlog grow faster (docs/benchmarks.md). Without bitmap
 * scans and sorts the only plan left is that index scan; the planner settings of the function
 * apply only while it runs.
 */
export const outboxClaimFunctionMigration: Migration = {
	name: "104-outbox-claim-function",
	async up(qi: QueryInterface) {
		await qi.sequelize.query(
			`CREATE FUNCTION outbox_claim(batch integer, lease_seconds integer)
			 RETURNS TABLE (id bigint, event_name text, consumer_group text, payload jsonb, meta jsonb,
			                trace_context jsonb, attempts integer, prior_attempts integer)
			 LANGUAGE sql
			 SET enable_bitmapscan = off
			 SET enable_sort = off
			 AS $$
			   UPDATE outbox_events SET claimed_until = now() + make_interval(secs => lease_seconds)
			   WHERE outbox_events.id IN (
			     SELECT o.id FROM outbox_events o
			     WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND (o.claimed_until IS NULL OR o.claimed_until < now())
			     ORDER BY o.id LIMIT batch FOR UPDATE SKIP LOCKED)
			   RETURNING outbox_events.id, outbox_events.event_name::text, outbox_events.consumer_group::text, outbox_events.payload,
			             outbox_events.meta, outbox_events.trace_context, outbox_events.attempts, outbox_events.prior_attempts
			 $$`
		);
	},
	async down(qi: QueryInterface) {
		await qi.sequelize.query("DROP FUNCTION outbox_claim(integer, integer)");
	}
};

/**
 * The prune of sent rows reads them by age through this index. Without it the once-a-minute prune
 * read the whole table: about a second of a backend's CPU at 20k rows, every minute, growing with
 * the day of retention, and a stall of every request in that second (docs/benchmarks.md).
 */
export const outboxSentAtIndexMigration: Migration = {
	name: "105-outbox-sent-at-index",
	async up(qi: QueryInterface) {
		await qi.sequelize.query("CREATE INDEX outbox_events_sent_idx ON outbox_events (sent_at) WHERE sent_at IS NOT NULL");
	},
	async down(qi: QueryInterface) {
		await qi.sequelize.query("DROP INDEX outbox_events_sent_idx");
	}
};

/**
 * The claim function of migration 104 was created with sequential scans off as well. With bitmap
 * scans and sorts off a sequential scan cannot give the rows in id order, so the index scan is the
 * only plan left without that setting: the function keeps just those two.
 */
export const outboxClaimPlannerMigration: Migration = {
	name: "106-outbox-claim-planner-settings",
	async up(qi: QueryInterface) {
		await qi.sequelize.query("ALTER FUNCTION outbox_claim(integer, integer) RESET ALL");
		await qi.sequelize.query("ALTER FUNCTION outbox_claim(integer, integer) SET enable_bitmapscan = off");
		await qi.sequelize.query("ALTER FUNCTION outbox_claim(integer, integer) SET enable_sort = off");
	},
	async down() {
		// Nothing to undo: the claim plans the same either way.
	}
};
