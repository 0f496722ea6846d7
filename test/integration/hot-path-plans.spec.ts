/**
 * The hot path's statements keep a plan that reads one row by key as their tables grow. PostgreSQL
 * keeps the generic plan a prepared statement gets at its sixth run; made on a nearly empty table, it
 * used to read the whole table (or every pending order, through the status index) for each event.
 */
import { randomUUID } from "node:crypto";
import type { ServiceBroker } from "moleculer";
import type { Client } from "pg";
import type { Sequelize } from "sequelize";
import { applyUsualMoves } from "../../services/orders/orders.repository";
import { OrderStatus } from "../../lib/contracts/orders";
import { startOrdersNode } from "../support/orders-node";
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
			for (let i = 0; i < 8; i++) expect(await move()).not.toBeNull();
			await insertOrders(20_000);

			await connection.query("LOAD 'auto_explain'");
			await connection.query("SET auto_explain.log_min_duration = 0");
			await connection.query("SET client_min_messages = log");
			expect(await move()).not.toBeNull();

			const plan = plans.find(p => p.includes("UPDATE orders")) ?? "";
			expect(plan).toMatch(/Index Scan using orders_pkey on orders/);
			expect(plan).not.toMatch(/Seq Scan on orders|orders_status_created_at/);
		} finally {
			connection.off("notice", onNotice);
			await connection.query("RESET client_min_messages");
			await manager.releaseConnection(connection);
		}
	});
});
