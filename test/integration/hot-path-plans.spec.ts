/**
 * The hot path's statements keep a plan that reads one row by key as their tables grow, with the
 * planner's own settings. PostgreSQL keeps the generic plan a prepared statement gets at its sixth
 * run; made on a nearly empty table that had been analyzed, it reads the whole table (or every
 * pending order, through the status index) for each event. The hot tables stay unanalyzed until they
 * hold thousands of rows (lib/database/hot-table-statistics.ts), and a table never analyzed plans
 * as ten pages at least: a lookup by key. Each test makes the plans on a few rows, grows the tables
 * to what a busy node holds, and reads the plan of the next run (auto_explain).
 */
import { randomUUID } from "node:crypto";
import type { Context, ServiceBroker } from "moleculer";
import type { Client } from "pg";
import { QueryTypes, Sequelize } from "sequelize";
import { PRUNE_INBOX_SQL, applyUsualMoves, changeOrder, consumeOrderEvent, expireOverdueOrders } from "../../services/orders/orders.repository";
import { finishOrder, lockRecordIn, setAvailable, startOrders } from "../../services/processor/processor.repository";
import { processorMigrations } from "../../services/processor/processor.migrations";
import { ProcessingStatus } from "../../services/processor/processor.domain";
import { OrderStatus } from "../../lib/contracts/orders";
import { migrate } from "../../lib/database/migrator";
import type { SqlTransaction } from "../../lib/database/sql";
import { startOrdersNode } from "../support/orders-node";
import { PRUNE_SENT_OUTBOX_SQL, outboxRowValues } from "../../mixins/outbox.mixin";
import { createTestDatabase, type TestDatabase } from "../support/services";

interface ConnectionManager {
	getConnection(): Promise<Client>;
	releaseConnection(connection: Client): Promise<void>;
}

function connectionManager(db: Sequelize): ConnectionManager {
	return (db as unknown as { connectionManager: ConnectionManager }).connectionManager;
}

/**
 * Collects the plans auto_explain logs on `connection` (nested statements too: the claim runs in a
 * function) while `work` runs; the connection's prepared plans stay as they were.
 */
async function plansOf(connection: Client, work: () => Promise<unknown>): Promise<string[]> {
	const plans: string[] = [];
	const onNotice = (notice: { message?: string }) => plans.push(String(notice.message));
	connection.on("notice", onNotice);
	try {
		await connection.query("LOAD 'auto_explain'");
		await connection.query("SET auto_explain.log_min_duration = 0");
		await connection.query("SET auto_explain.log_nested_statements = on");
		await connection.query("SET client_min_messages = log");
		await work();
	} finally {
		connection.off("notice", onNotice);
		await connection.query("RESET client_min_messages");
		await connection.query("RESET auto_explain.log_min_duration");
	}
	return plans;
}

/** The logged plan of the statement whose text contains `text`. */
function planOf(plans: string[], text: string): string {
	const plan = plans.find(p => p.includes(text));
	if (!plan) throw new Error(`No plan of '${text}' among ${plans.length}:\n${plans.join("\n")}`);
	return plan;
}

/** Runs the hot path's statements on `connection` as one transaction's would. */
function transactionOn(connection: Client): SqlTransaction {
	return {
		query: async (s, values) => (await connection.query({ name: s.name, text: s.text, values })).rows,
		afterCommit: () => undefined
	};
}

/** The plan of a query as the service's sessions make it, from Sequelize. */
async function explain(db: Sequelize, sql: string, bind: Record<string, unknown>): Promise<string> {
	const rows = (await db.query(`EXPLAIN ${sql}`, { type: QueryTypes.SELECT, bind })) as Array<{ "QUERY PLAN": string }>;
	return rows.map(r => r["QUERY PLAN"]).join("\n");
}

describe("The hot path's plans on PostgreSQL", () => {
	let database: TestDatabase;
	let broker: ServiceBroker;
	let db: Sequelize;

	beforeAll(async () => {
		database = await createTestDatabase("plans");
		({ broker, db } = await startOrdersNode(database.url, { settings: { outboxPollIntervalMs: 3_600_000 } }));
	});

	afterAll(async () => {
		await broker?.stop();
		await database?.drop();
	});

	it("should leave the hot tables without statistics while they are new, so that a plan made on a few rows looks rows up by key", async () => {
		const tables = (await db.query(
			`SELECT relname AS table, reltuples, reloptions FROM pg_class
			 WHERE relname IN ('orders', 'processed_events') ORDER BY relname`,
			{ type: QueryTypes.SELECT }
		)) as Array<{ table: string; reltuples: number; reloptions: string[] }>;
		expect(tables.map(t => [t.table, t.reltuples])).toEqual([
			["orders", -1],
			["processed_events", -1]
		]);
		for (const table of tables) expect(table.reloptions).toEqual(expect.arrayContaining(["autovacuum_analyze_threshold=2000"]));
	});

	it("should move an order by its primary key after thousands of pending orders came, though its plan was made on a few", async () => {
		// One pool connection, as the service opened it, for the whole test: its prepared plans are its own.
		const manager = connectionManager(db);
		const connection = await manager.getConnection();
		const oneConnection = { connectionManager: { getConnection: async () => connection, releaseConnection: async () => undefined } } as unknown as Sequelize;
		const tx = transactionOn(connection);
		const insertOrders = (count: number) =>
			connection.query(
				`INSERT INTO orders (id, customer_id, items, total_amount, currency, status, correlation_id, created_at, updated_at)
				 SELECT gen_random_uuid(), 'c-plans', '[]'::jsonb, 1, 'EUR', 'pending', 'corr', now(), now() FROM generate_series(1, $1::int)`,
				[count]
			);
		const pendingOrder = async () => (await connection.query<{ id: string }>("SELECT id FROM orders WHERE status = 'pending' LIMIT 1")).rows[0].id;
		const move = async () => {
			const [moved] = await applyUsualMoves(oneConnection, [{
				orderId: await pendingOrder(),
				eventId: randomUUID(),
				eventName: "order.processed",
				from: OrderStatus.Pending,
				to: OrderStatus.Completed,
				errorMessage: null,
				at: new Date(),
				step: "order.processed received",
				nodeID: "plans",
				detail: null
			}]);
			return moved;
		};
		// The general path: the event into the inbox with its order locked, then the order moved.
		const consumeAndChange = async () => {
			const orderId = await pendingOrder();
			await connection.query("BEGIN");
			const { firstTime, order } = await consumeOrderEvent(tx, randomUUID(), "order.failed", orderId);
			await changeOrder(tx, { orderId, status: OrderStatus.Failed, errorMessage: "plans", at: new Date() }, {
				orderId,
				step: "order.failed received",
				status: OrderStatus.Failed,
				nodeID: "plans"
			});
			await connection.query("COMMIT");
			return firstTime && order?.id === orderId;
		};
		try {
			await insertOrders(20);
			// A few events already in the inbox, on one page: as on a node a minute after its start.
			await connection.query(
				`INSERT INTO processed_events (event_id, event_name, order_id)
				 SELECT gen_random_uuid()::text, 'order.processed', gen_random_uuid() FROM generate_series(1, 50)`
			);
			for (let i = 0; i < 8; i++) {
				expect(await move()).not.toBeNull();
				expect(await consumeAndChange()).toBe(true);
			}
			await insertOrders(20_000);
			// And the inbox grows as much: the events already applied.
			await connection.query(
				`INSERT INTO processed_events (event_id, event_name, order_id)
				 SELECT gen_random_uuid()::text, 'order.processed', gen_random_uuid() FROM generate_series(1, 20000)`
			);

			const plans = await plansOf(connection, async () => {
				expect(await move()).not.toBeNull();
				expect(await consumeAndChange()).toBe(true);
			});

			const usual = planOf(plans, "orders.status = ev.from_status");
			expect(usual).toMatch(/Index Scan using orders_pkey on orders/);
			expect(usual).not.toMatch(/Seq Scan on orders|orders_status_created_at/);
			// The inbox is probed by key for each event, not read whole into a hash.
			expect(usual).toMatch(/Index (Only )?Scan using processed_events_pkey on processed_events/);
			expect(usual).not.toMatch(/Hash Anti Join|Seq Scan on processed_events/);
			const consume = planOf(plans, "ON CONFLICT (event_id) DO NOTHING RETURNING event_id");
			expect(consume).toMatch(/Index Scan using orders_pkey on orders/);
			expect(consume).not.toMatch(/Seq Scan/);
			const change = planOf(plans, "UPDATE orders SET status = $2");
			expect(change).toMatch(/Index Scan using orders_pkey on orders/);
			expect(change).not.toMatch(/Seq Scan/);
		} finally {
			await connection.query("ROLLBACK").catch(() => undefined);
			await manager.releaseConnection(connection);
		}
	});

	it("should find overdue pending orders through the status index, oldest first, and expire each once", async () => {
		// 20k pending orders of the last minute (the previous test's), and 3 overdue; analyzed, as
		// autovacuum has analyzed a table of this size (the sweep's SQL is planned at each run).
		await db.query(
			`INSERT INTO orders (id, customer_id, items, total_amount, currency, status, correlation_id, created_at, updated_at)
			 SELECT gen_random_uuid(), 'c-overdue', '[]'::jsonb, 1, 'EUR', 'pending', 'corr', now() - interval '1 hour', now()
			 FROM generate_series(1, 3)`
		);
		await db.query("ANALYZE orders");
		// The shape of expireOverdueOrders' statement: one parameter per status, the cutoff from the clock.
		const sweep = "SELECT id FROM orders WHERE status IN ($from0) AND created_at < $createdBefore";
		const plan = await explain(db, `UPDATE orders SET status = 'expired' WHERE id IN (${sweep} ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED)`, {
			from0: OrderStatus.Pending,
			createdBefore: new Date(Date.now() - 600_000)
		});
		expect(plan).toMatch(/Index Scan using orders_status_created_at on orders/);
		expect(plan).toMatch(/Index Scan using orders_pkey on orders/);
		expect(plan).not.toMatch(/Seq Scan/);

		const expired = await db.transaction(t =>
			expireOverdueOrders(db, t, { from: [OrderStatus.Pending], to: OrderStatus.Expired, createdBefore: new Date(Date.now() - 600_000), at: new Date(), limit: 100 })
		);
		expect(expired).toHaveLength(3);
	});

	it("should prune sent outbox rows and old inbox ids through an index on their age, not by reading every row, and keep the recent ones", async () => {
		// 20k recent rows, 5 old ones: what a busy node holds within its retention.
		await db.query(
			`INSERT INTO outbox_events (event_name, consumer_group, payload, created_at, sent_at)
			 SELECT 'order.created', 'processor', '{}'::jsonb, now(), now() - CASE WHEN g <= 5 THEN interval '2 days' ELSE interval '1 minute' END
			 FROM generate_series(1, 20000) g`
		);
		await db.query(
			`INSERT INTO processed_events (event_id, event_name, order_id, processed_at)
			 SELECT gen_random_uuid()::text, 'order.processed', gen_random_uuid(), now() - CASE WHEN g <= 5 THEN interval '8 days' ELSE interval '1 minute' END
			 FROM generate_series(1, 20000) g`
		);
		// Autovacuum has analyzed tables that took 2000 rows and more; the prunes are planned at each run.
		await db.query("ANALYZE outbox_events");
		await db.query("ANALYZE processed_events");

		const outboxPlan = await explain(db, PRUNE_SENT_OUTBOX_SQL, { before: new Date(Date.now() - 86_400_000) });
		expect(outboxPlan).toMatch(/Index (Only )?Scan using outbox_events_sent_idx|Bitmap Index Scan on outbox_events_sent_idx/);
		expect(outboxPlan).not.toMatch(/Seq Scan/);
		const inboxPlan = await explain(db, PRUNE_INBOX_SQL, { before: new Date(Date.now() - 604_800_000) });
		expect(inboxPlan).toMatch(/processed_events_processed_at/);
		expect(inboxPlan).not.toMatch(/Seq Scan|processed_events_pkey/);

		const orders = broker.getLocalService("orders") as unknown as { pruneSentOutbox(): Promise<number>; saga: { pruneProcessedEvents(): Promise<number> } };
		const counts = async () =>
			(
				(await db.query(
					`SELECT (SELECT count(*) FROM outbox_events)::int AS outbox, (SELECT count(*) FROM processed_events)::int AS inbox,
					        (SELECT count(*) FROM outbox_events WHERE sent_at < now() - interval '1 day')::int AS "oldOutbox",
					        (SELECT count(*) FROM processed_events WHERE processed_at < now() - interval '7 days')::int AS "oldInbox"`,
					{ type: QueryTypes.SELECT }
				)) as Array<{ outbox: number; inbox: number; oldOutbox: number; oldInbox: number }>
			)[0];
		const before = await counts();
		expect(await orders.pruneSentOutbox()).toBe(5);
		expect(await orders.saga.pruneProcessedEvents()).toBe(5);
		expect(await counts()).toEqual({ outbox: before.outbox - 5, inbox: before.inbox - 5, oldOutbox: 0, oldInbox: 0 });
	});
});

describe("The outbox relay's plans on PostgreSQL", () => {
	let database: TestDatabase;
	let broker: ServiceBroker;
	let db: Sequelize;

	beforeAll(async () => {
		database = await createTestDatabase("relay_plans");
		// One connection: the relay's prepared plans are those of the connection the test watches.
		({ broker, db } = await startOrdersNode(database.url, {
			settings: { outboxPollIntervalMs: 3_600_000, poolSize: 1 },
			services: [{ name: "probe", events: { "order.created": { group: "processor", handler: (_ctx: Context) => undefined } } }]
		}));
	});

	afterAll(async () => {
		await broker?.stop();
		await database?.drop();
	});

	it("should claim unsent rows through their index and mark them sent by key after a day of sent rows, though its plans were made on a few", async () => {
		const relay = broker.getLocalService("orders") as unknown as { publishOutboxBatch(): Promise<number> };
		const queue = (count: number) =>
			db.query(
				`INSERT INTO outbox_events (event_name, consumer_group, payload)
				 SELECT 'order.created', 'processor', json_build_object('orderId', gen_random_uuid()) FROM generate_series(1, :count)`,
				{ replacements: { count } }
			);
		for (let i = 0; i < 8; i++) {
			await queue(2);
			expect(await relay.publishOutboxBatch()).toBe(2);
		}
		// A day of sent rows, and a backlog.
		await db.query(
			`INSERT INTO outbox_events (event_name, consumer_group, payload, sent_at)
			 SELECT 'order.created', 'processor', '{}'::jsonb, now() FROM generate_series(1, 20000)`
		);
		await queue(20);

		const manager = connectionManager(db);
		const connection = await manager.getConnection();
		await manager.releaseConnection(connection);
		const plans = await plansOf(connection, async () => expect(await relay.publishOutboxBatch()).toBe(20));

		const claim = planOf(plans, "SELECT o.id FROM outbox_events o");
		expect(claim).toMatch(/Index Scan using outbox_events_unsent_idx on outbox_events o/);
		expect(claim).not.toMatch(/Seq Scan|Sort/);
		const markSent = planOf(plans, "UPDATE outbox_events SET sent_at = now()");
		expect(markSent).toMatch(/(Index Scan using|Bitmap Index Scan on) outbox_events_pkey/);
		expect(markSent).not.toMatch(/Seq Scan/);
	});
});

describe("The processor's plans on PostgreSQL", () => {
	let database: TestDatabase;
	let db: Sequelize;

	beforeAll(async () => {
		database = await createTestDatabase("processor_plans");
		// One connection, migrated as the processor migrates its database.
		db = new Sequelize(database.url, { dialect: "postgres", logging: false, pool: { max: 1, min: 0 } });
		await migrate(db, processorMigrations, { info: () => undefined }, "plans", false);
	});

	afterAll(async () => {
		await db?.close();
		await database?.drop();
	});

	it("should find and finish an order's processing record by its key after thousands of records came, though its plans were made on a few", async () => {
		await setAvailable(db, "sku-plans", 1_000_000_000);
		const manager = connectionManager(db);
		const connection = await manager.getConnection();
		const tx = transactionOn(connection);
		const processOrder = async () => {
			const orderId = randomUUID();
			const eventId = randomUUID();
			await connection.query("BEGIN");
			const { fresh } = await startOrders(tx, [{ orderId, eventId, correlationId: "corr" }], ["sku-plans"]);
			expect(await lockRecordIn(tx, orderId)).toEqual({ status: ProcessingStatus.Processing, cancellationHandled: false });
			await finishOrder(tx, {
				orderId,
				eventId,
				correlationId: "corr",
				nodeID: "plans",
				status: ProcessingStatus.Completed,
				errorMessage: null,
				lines: [{ sku: "sku-plans", quantity: 1 }],
				steps: [{ step: "reserved", status: ProcessingStatus.Completed, eventId }],
				outbox: outboxRowValues("order.processed", "orders", { orderId })
			});
			await connection.query("COMMIT");
			return fresh.has(orderId);
		};
		try {
			for (let i = 0; i < 8; i++) expect(await processOrder()).toBe(true);
			await connection.query(
				`INSERT INTO processing_records (id, order_id, event_id, status, correlation_id, created_at, updated_at)
				 SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid()::text, 'COMPLETED', 'corr', now(), now() FROM generate_series(1, 20000)`
			);

			const plans = await plansOf(connection, async () => expect(await processOrder()).toBe(true));

			const lock = planOf(plans, "SELECT status, cancelled_at FROM processing_records");
			expect(lock).toMatch(/Index Scan using processing_records_order_id_unique on processing_records/);
			expect(lock).not.toMatch(/Seq Scan/);
			const finish = planOf(plans, "UPDATE processing_records SET status = $4");
			expect(finish).toMatch(/Index Scan using processing_records_order_id_unique on processing_records/);
			expect(finish).not.toMatch(/Seq Scan on processing_records/);
		} finally {
			await connection.query("ROLLBACK").catch(() => undefined);
			await manager.releaseConnection(connection);
		}
	});
});
