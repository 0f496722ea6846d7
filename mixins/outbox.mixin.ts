import type { Context } from "moleculer";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { OUTBOX_LAG_ACTION, OutboxFailureActions, type DeadLetterFilter, type DeadLetterView, type FailedEventsParams } from "../lib/contracts/dead-letters";
import { FaultPoints, hitFaultPoint } from "../lib/fault-points";
import { recordDeadLetter, recordEventRetry, setOutboxLag } from "../lib/metrics/business-metrics";
import { clockOf } from "../lib/clock";
import { captureTraceContext, continueTrace, outsideTraces } from "../lib/tracing/context";
import { runStatement, sqlOf, statement, type SqlTransaction } from "../lib/database/sql";
import { decideDelivery } from "../lib/transport/delivery-policy";
import { takeEventFailure } from "../lib/transport/event-failures";
import type { Mixin, PartialSettingsSchema } from "../lib/broker/service-schema";
import type { DbMethods, DbVars } from "./db.mixin";
import { failedEventsFilterProperties, listFailedEvents, purgeFailedEvents, replayFailedEvents } from "./outbox-failures";
import { countFailedEvents, readOutboxLag, type OutboxLag } from "./outbox-lag";
import type { OutboxMethods, OutboxRow, OutboxSettings, OutboxVars } from "./outbox.types";

export type { OutboxMethods, OutboxSettings, OutboxVars };

/** How long a relay may hold claimed rows before another instance may take them over. */
const OUTBOX_LEASE_SECONDS = 10;

/** The trace context to store with an event written now, as JSON; null when nothing is traced. */
function traceContextJson(): string | null {
	const carrier = captureTraceContext();
	return carrier ? JSON.stringify(carrier) : null;
}

/**
 * The values of a new outbox row, in the order of its columns (event_name, consumer_group, payload,
 * meta, trace_context): for a hot-path statement that writes its event with the business change. The
 * caller wakes the relay after its commit (`wakeOutboxRelay`).
 */
export function outboxRowValues(eventName: string, consumerGroup: string, payload: object, meta: Record<string, unknown> = {}): unknown[] {
	return [eventName, consumerGroup, JSON.stringify(payload), JSON.stringify(meta), traceContextJson()];
}

const insertOutboxRow = statement(
	"outbox.insert",
	"INSERT INTO outbox_events (event_name, consumer_group, payload, meta, trace_context) VALUES ($1, $2, $3, $4, $5)"
);

/**
 * Deletes up to 1000 rows sent before `$before`, by the `sent_at` index (migration 105). The cutoff
 * comes from the service's clock, so that a test moves it.
 */
export const PRUNE_SENT_OUTBOX_SQL = `DELETE FROM outbox_events WHERE id IN (
   SELECT id FROM outbox_events
   WHERE sent_at IS NOT NULL AND sent_at < $before
   LIMIT 1000)
 RETURNING id`;

/** Claims a batch of publishable rows for a lease (see `publishOutboxBatch`, and migration 104 for why a function). */
const claimOutboxBatch = statement("outbox.claim", "SELECT * FROM outbox_claim($1, $2)");

/**
 * Planned at each run: on a new table a batch's ids cost less read whole than looked up by key
 * (tens of rows, ten pages assumed); a plan kept from then would read a day of sent rows per batch.
 */
const markOutboxSent = statement("outbox.mark-sent", "UPDATE outbox_events SET sent_at = now() WHERE id = ANY($1::bigint[])", { planEachRun: true });

/** A Sequelize transaction, as opposed to the hot path's {@link SqlTransaction}. */
function isSequelizeTransaction(t: Transaction | SqlTransaction): t is Transaction {
	return typeof (t as Transaction).commit === "function";
}

/** What the relay's span of a row says about it. */
function outboxSpanAttributes(row: OutboxRow) {
	return {
		"messaging.destination.name": row.event_name,
		"messaging.consumer.group.name": row.consumer_group,
		"outbox.id": String(row.id),
		"outbox.attempts": row.attempts,
		...(typeof row.payload.orderId === "string" ? { "order.id": row.payload.orderId } : {})
	};
}

/** The outbox mixin's schema: it runs on top of the database mixin's methods and adapter. */
type OutboxMixinSchema = PartialSettingsSchema<OutboxSettings, OutboxMethods & DbMethods, OutboxVars & DbVars>;

/**
 * Transactional outbox: an event is written in the same transaction as the business change
 * (`enqueueEvent`) and published afterwards by a relay (`publishPendingOutbox`), which marks a row
 * sent only once the transporter confirmed it. A crash between commit and publish delays the
 * event; it never loses it. Rows are claimed with `FOR UPDATE SKIP LOCKED` and a lease, so several
 * instances of a service never publish the same row at the same time. Sent rows are kept for
 * `outboxRetentionMs`, then pruned, so the table stays small.
 *
 * Without a transporter the relay runs the handlers itself, and the delivery policy settles a
 * failure here: a retry waits its backoff, an event given up on is marked `failed_at`. The
 * dead-letter service lists, replays and purges those rows through this mixin's actions.
 *
 * With tracing on, a row keeps the trace context of the transaction that wrote it, and the relay
 * publishes it in a span of that trace (lib/tracing, docs/tracing.md).
 *
 * Requires the database mixin (`this.db()`), listed after this one in `mixins`.
 */
const outboxMixinSchema: OutboxMixinSchema = {
	name: "outbox-mixin",
	settings: {
		outboxPollIntervalMs: 1000,
		outboxBatchSize: 50,
		outboxPruneIntervalMs: 60 * 1000,
		outboxLagIntervalMs: 2000
	},

	// --- actions ---------------------------------------------------------------------------------
	// For the dead-letter service when there is no transporter; no REST route maps them.
	actions: {
		/** Lists the events whose handler failed for good, as dead letters, oldest first. */
		[OutboxFailureActions.List]: {
			visibility: "public",
			params: {
				type: "object",
				additionalProperties: false,
				properties: { ...failedEventsFilterProperties, limit: { type: "integer", minimum: 1, maximum: 1000 } }
			},
			async handler(ctx: Context<FailedEventsParams>): Promise<DeadLetterView[]> {
				const { limit, ...filter } = ctx.params;
				return listFailedEvents(this.db(), this.name, filter, limit ?? 100);
			}
		},

		/** Makes the matching failed events publishable again and wakes the relay; returns them. */
		[OutboxFailureActions.Replay]: {
			visibility: "public",
			params: { type: "object", additionalProperties: false, properties: failedEventsFilterProperties },
			async handler(ctx: Context<DeadLetterFilter>): Promise<DeadLetterView[]> {
				const replayed = await replayFailedEvents(this.db(), this.name, ctx.params);
				if (replayed.length > 0) this.wakeOutboxRelay();
				return replayed;
			}
		},

		/** Deletes the matching failed events for good; returns them. */
		[OutboxFailureActions.Purge]: {
			visibility: "public",
			params: { type: "object", additionalProperties: false, properties: failedEventsFilterProperties },
			async handler(ctx: Context<DeadLetterFilter>): Promise<DeadLetterView[]> {
				return purgeFailedEvents(this.db(), this.name, ctx.params);
			}
		},

		/** Counts the failed events by event and group (the dead-letter depth without a broker). */
		[OutboxFailureActions.Count]: {
			visibility: "public",
			async handler(): Promise<Array<{ event: string; group: string; count: number }>> {
				return countFailedEvents(this.db());
			}
		},

		/** How many events wait to be published, and how long the oldest has waited (for readiness). */
		[OUTBOX_LAG_ACTION]: {
			visibility: "public",
			async handler(): Promise<OutboxLag> {
				return readOutboxLag(this.db());
			}
		}
	},

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Adds an event to the outbox inside the caller's transaction; the relay publishes it after
		 * commit, in the trace that is active here (if any).
		 */
		async enqueueEvent(
			t: Transaction | SqlTransaction,
			eventName: string,
			consumerGroup: string,
			payload: object,
			meta: Record<string, unknown> = {}
		): Promise<void> {
			const tx = isSequelizeTransaction(t) ? sqlOf(t) : t;
			await tx.query(insertOutboxRow, outboxRowValues(eventName, consumerGroup, payload, meta));
			tx.afterCommit(() => this.wakeOutboxRelay());
		},

		/** Publishes unsent outbox rows in batches until none is left; returns how many were sent. */
		async publishPendingOutbox(): Promise<number> {
			let total = 0;
			for (;;) {
				const sent: number = await this.publishOutboxBatch();
				total += sent;
				if (sent < this.settings.outboxBatchSize) return total;
			}
		},

		/**
		 * Claims one batch of rows for a lease, publishes them, and marks the published ones sent.
		 * No transaction is held while publishing: a slow broker never pins a database connection.
		 * A row whose publish failed, or whose claimer died, is claimable again when its lease ends.
		 */
		async publishOutboxBatch(): Promise<number> {
			const db: Sequelize = this.db();
			const rows = await runStatement<OutboxRow>(db, claimOutboxBatch, [this.settings.outboxBatchSize, OUTBOX_LEASE_SECONDS]);
			rows.sort((a, b) => Number(a.id) - Number(b.id));

			const deliverable = rows.filter(row => this.canDeliverEvent(row.event_name, row.consumer_group));
			if (deliverable.length > 0) hitFaultPoint(this.settings.faultPoints, FaultPoints.OutboxBeforePublish);
			// Published together: the transporter pipelines them on its confirm channel (in order)
			// and each resolves on its own confirm, instead of one round trip per row. Each goes out in
			// the trace of the request that wrote it.
			const results = await Promise.allSettled(
				deliverable.map(row =>
					continueTrace(row.trace_context, `outbox publish ${row.event_name}`, outboxSpanAttributes(row), async () => {
						await this.broker.emit(row.event_name, row.payload, { groups: [row.consumer_group], meta: row.meta, throwError: true });
						// Without a transporter the handler ran inside `emit`, which swallows its error.
						const handlerError = takeEventFailure(row.payload);
						if (handlerError) throw handlerError;
					})
				)
			);
			const sentIds = deliverable.filter((_, i) => results[i].status === "fulfilled").map(row => row.id);
			const failures = deliverable.flatMap((row, i) => {
				const result = results[i];
				return result.status === "rejected" ? [{ row, error: result.reason as Error }] : [];
			});

			if (sentIds.length > 0) {
				await runStatement(db, markOutboxSent, [sentIds]);
			}
			// Without a transporter a failure is the handler's own: the delivery policy settles it.
			const handlerFailures = this.broker.transit ? [] : failures;
			const settledIds = new Set([...sentIds, ...handlerFailures.map(f => f.row.id)]);
			const unsentIds = rows.map(r => r.id).filter(id => !settledIds.has(id));
			if (unsentIds.length > 0) {
				// Release the rest at once instead of waiting for the lease to end.
				const failedIds = failures.filter(f => unsentIds.includes(f.row.id)).map(f => f.row.id);
				await db.query(
					`UPDATE outbox_events SET claimed_until = NULL,
					   attempts = attempts + CASE WHEN id IN (:failedIds) THEN 1 ELSE 0 END,
					   last_error = CASE WHEN id IN (:failedIds) THEN :error ELSE last_error END
					 WHERE id IN (:ids)`,
					{ replacements: { ids: unsentIds, failedIds: failedIds.length ? failedIds : ["0"], error: failures[0]?.error.message ?? null } }
				);
			}
			if (failures.length > 0 && this.broker.transit) {
				this.logger.warn(`${failures.length} outbox event(s) could not be published; they stay queued.`, {
					outboxIds: failures.map(f => f.row.id),
					error: failures[0].error.message
				});
			}
			for (const { row, error } of handlerFailures) await this.settleHandlerFailure(row, error);
			return sentIds.length === rows.length ? rows.length : 0;
		},

		/**
		 * Without a transporter there is no retry queue and no dead-letter queue: the outbox row
		 * carries out the delivery policy's decision. A retried row is leased to nobody until its
		 * backoff delay ends (`claimed_until`); a row given up on is marked `failed_at` with its
		 * last error, and is not run again until it is replayed.
		 */
		async settleHandlerFailure(row: OutboxRow, error: Error): Promise<void> {
			// The policy counts the runs since the last replay; the log shows every run.
			const attempt = row.attempts - row.prior_attempts + 1;
			const decision = decideDelivery(error, attempt, this.settings.outboxDelivery);
			const context = { outboxId: row.id, orderId: row.payload.orderId, attempts: row.attempts + 1, error: error.message };
			await this.db().query(
				`UPDATE outbox_events SET attempts = attempts + 1, last_error = :error, last_error_name = :errorName,
				   claimed_until = CASE WHEN :retry THEN now() + make_interval(secs => :delaySeconds) END,
				   failed_at = CASE WHEN :retry THEN NULL ELSE now() END
				 WHERE id = :id`,
				{
					replacements: {
						id: row.id,
						error: error.message.slice(0, 2000),
						errorName: error.name.slice(0, 100),
						retry: decision.action === "retry",
						delaySeconds: decision.action === "retry" ? decision.delayMs / 1000 : 0
					}
				}
			);
			if (decision.action === "retry") {
				recordEventRetry(this.broker, row.event_name, row.consumer_group);
				this.logger.warn(`Event '${row.event_name}' failed; it runs again in ${decision.delayMs} ms.`, context);
			} else {
				recordDeadLetter(this.broker, row.event_name, row.consumer_group, error);
				this.logger.error(`Event '${row.event_name}' failed for good (${decision.reason}); it stays in the outbox, marked failed.`, context);
			}
		},

		/**
		 * With a transporter, the group's durable queue takes the event whether or not a consumer is
		 * online. Without one, a local handler must exist, or the broker would drop the event.
		 */
		canDeliverEvent(eventName: string, group: string): boolean {
			if (this.broker.transit) return true;
			return this.broker.registry.events.getBalancedEndpoints(eventName, [group]).length > 0;
		},

		/** Deletes sent rows older than the retention period, in batches; returns how many went. */
		async pruneSentOutbox(): Promise<number> {
			const db: Sequelize = this.db();
			const before = new Date(clockOf(this.broker).now() - this.settings.outboxRetentionMs);
			let total = 0;
			for (;;) {
				const deleted = await db.query(PRUNE_SENT_OUTBOX_SQL, { type: QueryTypes.SELECT, bind: { before } });
				total += deleted.length;
				if (deleted.length < 1000) return total;
			}
		},

		/**
		 * Sets the outbox gauges from one cheap query, at most every `outboxLagIntervalMs`; apart
		 * from the relay's pass, so that a relay stuck on a publish still shows its lag growing.
		 */
		refreshOutboxLagMetrics(): void {
			if (!this.broker.isMetricsEnabled() || this.outboxLagRefresh || !this.adapter?.ready) return;
			const now = clockOf(this.broker).now();
			if (now - (this.outboxLagAt ?? 0) < this.settings.outboxLagIntervalMs) return;
			this.outboxLagAt = now;
			this.outboxLagRefresh = readOutboxLag(this.db())
				.then(lag => setOutboxLag(this.broker, this.name, lag))
				.catch((err: Error) => this.logger.debug("The outbox lag could not be read; it is read again shortly.", err.message))
				.finally(() => (this.outboxLagRefresh = null));
		},

		/** Runs the relay now (coalescing concurrent wake-ups into one more pass). */
		wakeOutboxRelay(): void {
			if (this.outboxStopped || !this.adapter?.ready) return;
			if (this.outboxRunning) {
				this.outboxWakeAgain = true;
				return;
			}
			// A pass publishes the rows of many requests: it belongs to none of their traces.
			this.outboxRunning = outsideTraces(async () => {
				do {
					this.outboxWakeAgain = false;
					try {
						await this.publishPendingOutbox();
					} catch (err) {
						this.logger.warn("Outbox relay pass failed; it runs again shortly.", err);
					}
				} while (this.outboxWakeAgain && !this.outboxStopped);
				this.outboxRunning = null;
			});
		}
	},

	started() {
		this.outboxStopped = false;
		const clock = clockOf(this.broker);
		this.outboxTimer = clock.every(this.settings.outboxPollIntervalMs, () => {
			this.wakeOutboxRelay();
			this.refreshOutboxLagMetrics();
		});
		this.outboxPruneTimer = clock.every(this.settings.outboxPruneIntervalMs, () => {
			if (!this.adapter?.ready) return;
			this.pruneSentOutbox().catch((err: Error) => this.logger.warn("Outbox pruning failed; it runs again later.", err));
		});
		this.wakeOutboxRelay();
		this.refreshOutboxLagMetrics();
	},

	/** Flushes what is left before the database mixin closes the pool (the transporter is still up). */
	async stopped() {
		this.outboxStopped = true;
		this.outboxTimer?.();
		this.outboxPruneTimer?.();
		await this.outboxRunning;
		await this.outboxLagRefresh;
		// A service whose database never came up has nothing to flush.
		if (!this.adapter?.ready) return;
		try {
			await this.publishPendingOutbox();
		} catch (err) {
			this.logger.warn("Outbox rows left unsent at shutdown; they are published after the next start.", err);
		}
	}
};

/** The transactional outbox ({@link outboxMixinSchema}), for a service's `mixins`. */
export const OutboxMixin: Mixin<{ settings: OutboxSettings; methods: OutboxMethods; vars: OutboxVars }, DbMethods> = outboxMixinSchema;
