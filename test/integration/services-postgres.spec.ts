/**
 * The services on the real PostgreSQL (one database each, as in production), one process, no
 * transporter: stock locking under concurrent orders, and consumers that change nothing twice.
 */
import { randomUUID } from "node:crypto";
import { startSystem, type RunningSystem } from "../support/system";
import { createTestDatabase, queryDatabase, waitFor, type TestDatabase } from "../support/services";

describe("Services on PostgreSQL", () => {
	let ordersDb: TestDatabase;
	let processorDb: TestDatabase;
	let system: RunningSystem;
	const api = () => system.http();

	const createOrder = async (items: Array<{ sku: string; quantity: number; unitPrice: number }>, customerId = "pg-customer") => {
		const res = await api().post("/api/orders").send({ customerId, items, currency: "USD" });
		expect(res.status).toBe(201);
		return res.body.id as string;
	};
	const finalOrder = (id: string) =>
		waitFor(`order ${id} to leave pending`, async () => {
			const res = await api().get(`/api/orders/${id}`);
			return res.body.status !== "pending" ? res.body : null;
		});
	const processingRecords = (orderId: string) =>
		queryDatabase<{ status: string }>(processorDb.url, "SELECT status FROM processing_records WHERE order_id = $1", [orderId]);

	beforeAll(async () => {
		[ordersDb, processorDb] = await Promise.all([createTestDatabase("orders"), createTestDatabase("processor")]);
		system = await startSystem({
			env: { ORDERS_DATABASE_URL: ordersDb.url, PROCESSOR_DATABASE_URL: processorDb.url }
		});
	});

	afterAll(async () => {
		await system?.stop();
		await Promise.all([ordersDb?.drop(), processorDb?.drop()]);
	});

	describe("When the schema is created", () => {
		it("should have the contract's tables, one processing record per order and the demo catalogue", async () => {
			const index = await queryDatabase<{ indexdef: string }>(
				processorDb.url,
				"SELECT indexdef FROM pg_indexes WHERE tablename = 'processing_records' AND indexdef LIKE '%UNIQUE%order_id%'"
			);
			expect(index).toHaveLength(1);
			const orders = await queryDatabase(ordersDb.url, "SELECT count(*)::int AS n FROM orders");
			expect(orders).toEqual([{ n: 0 }]);
			const stock = await queryDatabase<{ n: number; min: string; max: string; units: number }>(
				processorDb.url,
				"SELECT count(*)::int AS n, min(sku) AS min, max(sku) AS max, min(available) AS units FROM stock"
			);
			expect(stock).toEqual([{ n: 100, min: "SKU-0001", max: "SKU-0100", units: 1_000_000 }]);
		});
	});

	describe("When more orders arrive at once than the stock can serve", () => {
		it("should complete exactly as many as there are units and fail the rest", async () => {
			await api().put("/api/admin/stock/LIMITED-1").send({ available: 10 }).expect(200);

			const ids = await Promise.all(
				Array.from({ length: 20 }, (_, i) => createOrder([{ sku: "LIMITED-1", quantity: 1, unitPrice: 3 }], `rush-${i}`))
			);
			const finals = await Promise.all(ids.map(finalOrder));

			expect(finals.filter(o => o.status === "completed")).toHaveLength(10);
			const failed = finals.filter(o => o.status === "failed");
			expect(failed).toHaveLength(10);
			expect(failed[0].errorMessage).toMatch(/^Insufficient stock for SKU 'LIMITED-1'/);
			const stock = await api().get("/api/admin/stock/LIMITED-1");
			expect(stock.body).toEqual({ sku: "LIMITED-1", available: 0, reserved: 10 });
		});
	});

	describe("When the processor receives the same 'order.created' again", () => {
		it("should keep one processing record and reserve the stock once", async () => {
			const id = await createOrder([{ sku: "SKU-0050", quantity: 7, unitPrice: 1 }]);
			await finalOrder(id);
			const [outbox] = await queryDatabase<{ payload: Record<string, unknown> }>(
				ordersDb.url,
				"SELECT payload FROM outbox_events WHERE event_name = 'order.created' AND payload->>'orderId' = $1",
				[id]
			);

			await system.broker.emit("order.created", outbox.payload, { groups: ["processor"] });
			await system.broker.emit("order.created", outbox.payload, { groups: ["processor"] });

			expect(await processingRecords(id)).toEqual([{ status: "COMPLETED" }]);
			const stock = await api().get("/api/admin/stock/SKU-0050");
			expect(stock.body).toEqual({ sku: "SKU-0050", available: 1_000_000 - 7, reserved: 7 });
			const reservations = await queryDatabase(processorDb.url, "SELECT sku, quantity FROM stock_reservations WHERE order_id = $1", [id]);
			expect(reservations).toEqual([{ sku: "SKU-0050", quantity: 7 }]);
		});
	});

	describe("When orders receives a late or repeated 'order.processed'", () => {
		it("should never move a completed order back", async () => {
			const id = await createOrder([{ sku: "SKU-0051", quantity: 1, unitPrice: 1 }]);
			expect((await finalOrder(id)).status).toBe("completed");
			const [answer] = await queryDatabase<{ payload: Record<string, unknown> }>(
				processorDb.url,
				"SELECT payload FROM outbox_events WHERE event_name = 'order.processed' AND payload->>'orderId' = $1",
				[id]
			);

			// The same answer again, then a contradicting one that arrives late.
			await system.broker.emit("order.processed", answer.payload, { groups: ["orders"] });
			await system.broker.emit(
				"order.processed",
				{ ...answer.payload, eventId: randomUUID(), status: "failed", errorMessage: "late" },
				{ groups: ["orders"] }
			);

			const after = await api().get(`/api/orders/${id}`);
			expect(after.body).toMatchObject({ status: "completed", errorMessage: null });
			const inbox = await queryDatabase(ordersDb.url, "SELECT count(*)::int AS n FROM processed_events WHERE order_id = $1", [id]);
			expect(inbox).toEqual([{ n: 2 }]);
		});
	});

	describe("When an 'order.created' breaks its schema", () => {
		it("should be rejected before anything is written", async () => {
			const orderId = randomUUID();
			await system.broker.emit(
				"order.created",
				{ eventId: randomUUID(), version: 1, orderId, correlationId: "c", occurredAt: new Date().toISOString(), customerId: "x", currency: "EUR", totalAmount: 1 },
				{ groups: ["processor"] }
			);

			expect(await processingRecords(orderId)).toEqual([]);
		});
	});
});
