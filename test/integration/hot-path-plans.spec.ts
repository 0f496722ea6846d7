/**
 * The hot path's statements keep a plan that reads one row by key as their tables grow. PostgreSQL
 * keeps the generic plan a prepared statement gets at its sixth run; made on a nearly empty table, it
 * used to read the whole table (or every pending order, through the status index) for each event.
 */
import { randomUUID } from "node:crypto";
import type { ServiceBroker } from "moleculer";
import type { Client } from "pg";
import { QueryTypes, type Sequelize } from "sequelize";
import { PRUNE_INBOX_SQL, applyUsualMoves } from "../../services/orders/orders.repository";
import { OrderStatus } from "../../lib/contracts/orders";
import { startOrdersNode } from "../support/orders-node";
import { PRUNE_SENT_OUTBOX_SQL } from "../../mixins/outbox.mixin";
import { createTestDatabase, type TestDatabase } from "../support/services";

interface ConnectionManager {
	getConnection(): Promise<Client>;
	releaseConnection(connection: Client): Promise<void>;
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

	it("should move an order by its primary key after thousands of pending orders came, though its plan was made on a few", async () => {
		// One pool connection, as the service opened it, for the whole test: its prepared plans are its own.
		const manager = (db as unknown as { connectionManager: ConnectionManager }).connectionManager;
		const connection = await manager.getConnection();
		const oneConnection = { connectionManager: { getConnection: async () => connection, releaseConnection: async () => undefined } } as unknown as Sequelize;
		const plans: string[] = [];
		const onNotice = (notice: { message?: string }) => plans.push(String(notice.message));
		connection.on("notice", onNotice);
		const insertOrders = (count: number) =>
			connection.query(
				`INSERT INTO orders (id, customer_id, items, total_amount, currency, status, correlation_id, created_at, updated_at)
				 SELECT gen_random_uuid(), 'c-plans', '[]'::jsonb, 1, 'EUR', 'pending', 'corr', now(), now() FROM generate_series(1, $1::int)`,
				[count]
			);
		const move = async () => {
			const [{ id }] = (await connection.query<{ id: string }>("SELECT id FROM orders WHERE status = 'pending' LIMIT 1")).rows;
			const [moved] = await applyUsualMoves(oneConnection, [{
				orderId: id,
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
		try {
			await insertOrders(10);
			// A few events already in the inbox, on one page: as on a node a minute after its start.
			await connection.query(
				`INSERT INTO processed_events (event_id, event_name, order_id)
				 SELECT gen_random_uuid()::text, 'order.processed', gen_random_uuid() FROM generate_series(1, 50)`
			);
			await connection.query("ANALYZE processed_events");
			for (let i = 0; i < 8; i++) expect(await move()).not.toBeNull();
			await insertOrders(20_000);
			// And the inbox grows as much: the events already applied.
			await connection.query(
				`INSERT INTO processed_events (event_id, event_name, order_id)
				 SELECT gen_random_uuid()::text, 'order.processed', gen_random_uuid() FROM generate_series(1, 20000)`
			);

			await connection.query("LOAD 'auto_explain'");
			await connection.query("SET auto_explain.log_min_duration = 0");
			await connection.query("SET client_min_messages = log");
			expect(await move()).not.toBeNull();

			const plan = plans.find(p => p.includes("UPDATE orders")) ?? "";
			expect(plan).toMatch(/Index Scan using orders_pkey on orders/);
			expect(plan).not.toMatch(/Seq Scan on orders|orders_status_created_at/);
			// The inbox is probed by key for each event, not read whole into a hash.
			expect(plan).toMatch(/Index (Only )?Scan using processed_events_pkey on processed_events/);
			expect(plan).not.toMatch(/Hash Anti Join|Seq Scan on processed_events/);
		} finally {
			connection.off("notice", onNotice);
			await connection.query("RESET client_min_messages");
			await manager.releaseConnection(connection);
		}
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
		const planOf = async (sql: string, bind: Record<string, Date>) => {
			const rows = (await db.query(`EXPLAIN ${sql}`, { type: QueryTypes.SELECT, bind })) as Array<{ "QUERY PLAN": string }>;
			return rows.map(r => r["QUERY PLAN"]).join("\n");
		};

		// The plans on a pool connection, as the service's sessions make them (sequential scans off).
		const outboxPlan = await planOf(PRUNE_SENT_OUTBOX_SQL, { before: new Date(Date.now() - 86_400_000) });
		expect(outboxPlan).toMatch(/Index (Only )?Scan using outbox_events_sent_idx|Bitmap Index Scan on outbox_events_sent_idx/);
		expect(outboxPlan).not.toMatch(/Seq Scan|outbox_events_pkey on outbox_events outbox_events_1/);
		const inboxPlan = await planOf(PRUNE_INBOX_SQL, { before: new Date(Date.now() - 604_800_000) });
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
