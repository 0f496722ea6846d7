/**
 * Cancels on the real PostgreSQL with two orders instances on one database: concurrent cancels of
 * one order, and cancels racing the expiry sweeper, still send exactly one `order.cancelled` per
 * order, whose cause matches how the order ended.
 */
import { randomUUID } from "node:crypto";
import { ConsumerGroups, EVENT_SCHEMA_VERSION } from "../../lib/contracts/events";
import { startSystem, type RunningSystem } from "../support/system";
import { createTestDatabase, queryDatabase, waitFor, type TestDatabase } from "../support/services";

const ORDER_TIMEOUT_MS = 1000;

describe("Cancels with two orders instances on one PostgreSQL database", () => {
	let ordersDb: TestDatabase;
	let nodes: RunningSystem[] = [];
	const cancel = (i: number, id: string) =>
		nodes[i % 2].broker.call<{ status: string }, object>("orders.cancel", { id, reason: `attempt ${i}` }).then(
			order => ({ outcome: 200, status: order.status }),
			(err: { code?: number; message: string }) => ({ outcome: err.code ?? 500, status: err.message })
		);

	beforeAll(async () => {
		ordersDb = await createTestDatabase("orders_cancel");
		const env = { ORDERS_DATABASE_URL: ordersDb.url, ORDER_TIMEOUT_MS: String(ORDER_TIMEOUT_MS) };
		nodes.push(await startSystem({ services: ["orders"], env: { ...env, NODEID: "orders-a" } }));
		nodes.push(await startSystem({ services: ["orders"], env: { ...env, NODEID: "orders-b" } }));
	});

	afterAll(async () => {
		await Promise.all(nodes.map(node => node.stop()));
		nodes = [];
		await ordersDb?.drop();
	});

	it("should move a completed order to cancelling once and send one 'order.cancelled', however many cancels arrive at once", async () => {
		const order = await nodes[0].broker.call<{ id: string; correlationId: string }, object>("orders.create", {
			customerId: "racer",
			items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 1 }],
			currency: "EUR"
		});
		await nodes[1].broker.emit(
			"order.processed",
			{ eventId: randomUUID(), version: EVENT_SCHEMA_VERSION, orderId: order.id, correlationId: order.correlationId, occurredAt: new Date().toISOString(), status: "completed" },
			{ groups: [ConsumerGroups["order.processed"]], throwError: true }
		);

		const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => cancel(i, order.id)));

		expect(answers).toEqual(Array.from({ length: 12 }, () => ({ outcome: 200, status: "cancelling" })));
		const rows = await queryDatabase<{ cause: string }>(
			ordersDb.url,
			"SELECT payload->>'cause' AS cause FROM outbox_events WHERE event_name = 'order.cancelled' AND payload->>'orderId' = $1",
			[order.id]
		);
		expect(rows).toEqual([{ cause: "cancelled" }]);
		const steps = await queryDatabase<{ step: string; status: string }>(
			ordersDb.url,
			"SELECT step, status FROM order_history WHERE order_id = $1 AND step = 'cancel requested' ORDER BY id",
			[order.id]
		);
		// The first cancel is recorded; the eleven repeats change nothing, the history included.
		expect(steps).toEqual([{ step: "cancel requested", status: "cancelling" }]);
	});

	it("should end each order either cancelled (200) or expired (409) when cancels race the sweeper, with one matching 'order.cancelled'", async () => {
		// Due times spread over one second; each cancel is sent between its order's due time and
		// 200 ms later, while both sweepers (every 250 ms each) take the overdue orders too.
		const rows = await queryDatabase<{ id: string; due: Date }>(
			ordersDb.url,
			`INSERT INTO orders (id, customer_id, items, total_amount, currency, status, correlation_id, created_at, updated_at)
			 SELECT gen_random_uuid(), 'race', '[{"sku":"SKU-0001","quantity":1,"unitPrice":1}]', 1, 'EUR', 'pending', 'corr-race-' || n,
			        now() + n * interval '5 milliseconds', now()
			 FROM generate_series(1, 200) AS n
			 RETURNING id::text, created_at + make_interval(secs => ${ORDER_TIMEOUT_MS / 1000}) AS due`
		);
		const ids = rows.map(row => row.id);
		const answers = await Promise.all(
			rows.map(async (row, i) => {
				const sendAt = new Date(row.due).getTime() + (i % 5) * 50;
				await waitFor(`the time to cancel order ${i}`, () => Date.now() >= sendAt, 10_000, 5);
				return cancel(i, row.id);
			})
		);
		await waitFor("every order to be final", async () => {
			const [{ n }] = await queryDatabase<{ n: number }>(ordersDb.url, "SELECT count(*)::int AS n FROM orders WHERE customer_id = 'race' AND status = 'pending'");
			return n === 0;
		});

		const finals = await queryDatabase<{ id: string; status: string; causes: string[] }>(
			ordersDb.url,
			`SELECT o.id::text AS id, o.status, array_remove(array_agg(e.payload->>'cause' ORDER BY e.id), NULL) AS causes
			 FROM orders o LEFT JOIN outbox_events e ON e.event_name = 'order.cancelled' AND e.payload->>'orderId' = o.id::text
			 WHERE o.customer_id = 'race' GROUP BY o.id, o.status`
		);
		const byId = new Map(finals.map(f => [f.id, f]));
		ids.forEach((id, i) => {
			const final = byId.get(id)!;
			if (answers[i].outcome === 200) {
				expect(final).toMatchObject({ status: "cancelled", causes: ["cancelled"] });
			} else {
				expect(answers[i]).toEqual({ outcome: 409, status: `Order '${id}' expired: it was already undone.` });
				expect(final).toMatchObject({ status: "expired", causes: ["expired"] });
			}
		});
		expect(finals).toHaveLength(200);
		// The race did happen: some cancels came first, some expiries did.
		const won = answers.filter(a => a.outcome === 200).length;
		expect(won).toBeGreaterThan(0);
		expect(won).toBeLessThan(200);
	});
});
