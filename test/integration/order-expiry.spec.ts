/**
 * Order expiry on the real PostgreSQL with two orders instances sweeping the same database, as two
 * nodes of a deployment do: row locks (`FOR UPDATE SKIP LOCKED`) and the status condition expire
 * each order exactly once, with exactly one `order.cancelled` and one history entry.
 */
import { startSystem, type RunningSystem } from "../support/system";
import { createTestDatabase, queryDatabase, waitFor, type TestDatabase } from "../support/services";
import { ManualClock } from "../support/manual-clock";
import { expirySweepIntervalMs } from "../../services/orders/orders.domain";

const ORDER_TIMEOUT_MS = 1000;

describe("Order expiry with two orders instances on one PostgreSQL database", () => {
	let ordersDb: TestDatabase;
	let nodes: RunningSystem[] = [];
	const count = async (sql: string) => (await queryDatabase<{ n: number }>(ordersDb.url, sql))[0].n;
	// One clock for both nodes, as the two nodes of a deployment share the time.
	const clock = new ManualClock();

	beforeAll(async () => {
		ordersDb = await createTestDatabase("orders_expiry");
		const env = { ORDERS_DATABASE_URL: ordersDb.url, ORDER_TIMEOUT_MS: String(ORDER_TIMEOUT_MS) };
		// One after the other: the first creates the schema, the second finds it migrated.
		nodes.push(await startSystem({ services: ["orders"], env: { ...env, NODEID: "orders-a" }, clock }));
		nodes.push(await startSystem({ services: ["orders"], env: { ...env, NODEID: "orders-b" }, clock }));
	});

	afterAll(async () => {
		await Promise.all(nodes.map(node => node.stop()));
		nodes = [];
		await ordersDb?.drop();
	});

	it("should expire every overdue order once, with one 'order.cancelled' and one history entry each", async () => {
		// Orders made through the action, on either node, while both sweep...
		const created = await Promise.all(
			Array.from({ length: 20 }, (_, i) =>
				nodes[i % 2].broker.call<{ id: string }, object>(
					"orders.create",
					{ customerId: `expiry-${i}`, items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 1 }], currency: "EUR" },
					{ meta: { correlationId: `corr-expiry-${i}` } }
				)
			)
		);
		// ...and a backlog already overdue, more than one batch, that both sweepers find at once.
		await queryDatabase(
			ordersDb.url,
			`INSERT INTO orders (id, customer_id, items, total_amount, currency, status, correlation_id, created_at, updated_at)
			 SELECT gen_random_uuid(), 'backlog', '[{"sku":"SKU-0001","quantity":1,"unitPrice":1}]', 1, 'EUR', 'pending',
			        'corr-backlog-' || n, now() - interval '1 hour', now() - interval '1 hour'
			 FROM generate_series(1, 250) AS n`
		);
		const total = created.length + 250;

		// The timeout passes at once; then each look moves the clock by a sweep's interval, and both sweepers run.
		clock.advance(ORDER_TIMEOUT_MS);
		await waitFor(
			`all ${total} orders to expire`,
			async () => {
				clock.advance(expirySweepIntervalMs(ORDER_TIMEOUT_MS));
				return (await count("SELECT count(*)::int AS n FROM orders WHERE status = 'expired'")) === total;
			},
			60_000
		);

		expect(await count("SELECT count(*)::int AS n FROM orders WHERE status <> 'expired'")).toBe(0);
		const perOrder = await queryDatabase<{ order_id: string; n: number }>(
			ordersDb.url,
			`SELECT o.id AS order_id, count(e.id)::int AS n FROM orders o
			 LEFT JOIN outbox_events e ON e.event_name = 'order.cancelled' AND e.payload->>'orderId' = o.id::text
			 GROUP BY o.id HAVING count(e.id) <> 1`
		);
		expect(perOrder).toEqual([]);
		expect(await count("SELECT count(*)::int AS n FROM outbox_events WHERE event_name = 'order.cancelled'")).toBe(total);
		expect(await count("SELECT count(*)::int AS n FROM outbox_events WHERE event_name = 'order.cancelled' AND payload->>'cause' <> 'expired'")).toBe(0);

		const history = await queryDatabase<{ n: number; nodes: string[] }>(
			ordersDb.url,
			"SELECT count(*)::int AS n, array_agg(DISTINCT node_id) AS nodes FROM order_history WHERE step = 'expired'"
		);
		expect(history[0].n).toBe(total);
		expect(history[0].nodes.every(node => ["orders-a", "orders-b"].includes(node))).toBe(true);

		// The event carries the order's own correlation id.
		const [one] = await queryDatabase<{ correlation: string }>(
			ordersDb.url,
			"SELECT payload->>'correlationId' AS correlation FROM outbox_events WHERE event_name = 'order.cancelled' AND payload->>'orderId' = $1",
			[created[3].id]
		);
		expect(one.correlation).toBe("corr-expiry-3");
	});
});
