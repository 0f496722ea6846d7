/**
 * Order expiry with three orders nodes of one deployment: three brokers on the real RabbitMQ (one
 * namespace, one virtual host) and one real PostgreSQL orders database, each with a clock of its
 * own, sweeping at the same moment. No processor runs, so no order gets an answer and every one
 * expires. Each order must expire exactly once: one `expired` history entry, one `order.cancelled`
 * with cause `expired`, and the nodes' `orders_finished_total{status="expired"}` adding up to the
 * orders.
 *
 * The second part shows what the counts guard against: the sweep's statement without its row
 * locks and status condition expires the same orders twice when two sweeps meet.
 */
import type { Sequelize, Transaction } from "sequelize";
import { QueryTypes } from "sequelize";
import { MetricNames } from "../../lib/metrics/business-metrics";
import { OrderStatus } from "../../lib/contracts/orders";
import { expireOverdueOrders } from "../../services/orders/orders.repository";
import { expirySweepIntervalMs } from "../../services/orders/orders.domain";
import { ManualClock } from "../support/manual-clock";
import { startOrdersNode, type OrdersNode } from "../support/orders-node";
import { startSystem, type RunningSystem } from "../support/system";
import { createTestDatabase, createTestVhost, queryDatabase, uniqueSuffix, waitFor, type TestDatabase, type TestVhost } from "../support/services";

const ORDER_TIMEOUT_MS = 1000;
const NODES = ["orders-a", "orders-b", "orders-c"];
/** Orders made through `orders.create`, per node. */
const CREATED_PER_NODE = 30;
/** Overdue orders written straight into the table: six sweeper batches (100 each) with the created ones. */
const BACKLOG = 510;
const TOTAL = NODES.length * CREATED_PER_NODE + BACKLOG;

/** Inserts `count` pending orders created an hour ago, with correlation ids `<label>-<n>`. */
async function insertOverdueOrders(url: string, label: string, count: number): Promise<void> {
	await queryDatabase(
		url,
		`INSERT INTO orders (id, customer_id, items, total_amount, currency, status, correlation_id, created_at, updated_at)
		 SELECT gen_random_uuid(), $1::text, '[{"sku":"SKU-0001","quantity":1,"unitPrice":1}]', 1, 'EUR', 'pending',
		        $1::text || '-' || n, now() - interval '1 hour', now() - interval '1 hour'
		 FROM generate_series(1, $2::int) AS n`,
		[label, count]
	);
}

describe("Order expiry with three orders nodes over RabbitMQ on one PostgreSQL database", () => {
	let vhost: TestVhost;
	let ordersDb: TestDatabase;
	let nodes: RunningSystem[] = [];
	const clocks = NODES.map(() => new ManualClock());
	const count = async (sql: string) => (await queryDatabase<{ n: number }>(ordersDb.url, sql))[0].n;
	const expiredCountOf = (node: RunningSystem) =>
		(node.broker.metrics.getMetric(MetricNames.OrdersFinished)?.get({ status: "expired" })?.value as number | undefined) ?? 0;

	beforeAll(async () => {
		vhost = createTestVhost();
		ordersDb = await createTestDatabase("orders_expiry_nodes");
		const env = {
			TRANSPORTER: vhost.url,
			NAMESPACE: `exp${uniqueSuffix()}`,
			ORDERS_DATABASE_URL: ordersDb.url,
			ORDER_TIMEOUT_MS: String(ORDER_TIMEOUT_MS),
			// On, so that each node counts its finished orders (the port is a free one).
			METRICS_PORT: "0"
		};
		// One after the other: the first creates the schema, the others find it migrated.
		for (const [i, nodeID] of NODES.entries()) {
			nodes.push(await startSystem({ services: ["orders"], env: { ...env, NODEID: nodeID }, clock: clocks[i] }));
		}
		await waitFor("the three orders nodes to see each other", () =>
			nodes.every(node => node.broker.registry.nodes.toArray().filter(n => n.available && !n.local).length === NODES.length - 1)
		);
	});

	afterAll(async () => {
		await Promise.all(nodes.map(node => node.stop()));
		nodes = [];
		await vhost?.remove();
		await ordersDb?.drop();
	});

	it("should expire each of 600 orders exactly once, with one history entry, one 'order.cancelled' and one count each", async () => {
		const created = await Promise.all(
			nodes.flatMap((node, n) =>
				Array.from({ length: CREATED_PER_NODE }, (_, i) =>
					node.broker.call<{ id: string; status: string }, object>(
						"orders.create",
						{ customerId: `expiry-${n}-${i}`, items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 1 }], currency: "EUR" },
						{ meta: { correlationId: `corr-expiry-${n}-${i}` } }
					)
				)
			)
		);
		expect(created.every(order => order.status === OrderStatus.Pending)).toBe(true);
		await insertOverdueOrders(ordersDb.url, "backlog", BACKLOG);
		expect(await count("SELECT count(*)::int AS n FROM orders WHERE status = 'pending'")).toBe(TOTAL);

		// Every clock passes the timeout in the same tick, so the three sweeps start together and
		// meet on the same overdue rows; each look then moves every clock by a sweep's interval.
		const advanceAll = (ms: number) => clocks.forEach(clock => clock.advance(ms));
		advanceAll(ORDER_TIMEOUT_MS + expirySweepIntervalMs(ORDER_TIMEOUT_MS));
		await waitFor(
			`all ${TOTAL} orders to expire`,
			async () => {
				advanceAll(expirySweepIntervalMs(ORDER_TIMEOUT_MS));
				return (await count("SELECT count(*)::int AS n FROM orders WHERE status = 'expired'")) === TOTAL;
			},
			60_000
		);

		// One `expired` history entry per order, and as many in all as orders.
		const historyNotOnce = await queryDatabase<{ id: string; n: number }>(
			ordersDb.url,
			`SELECT o.id, count(h.id)::int AS n FROM orders o
			 LEFT JOIN order_history h ON h.order_id = o.id AND h.step = 'expired'
			 GROUP BY o.id HAVING count(h.id) <> 1`
		);
		expect(historyNotOnce).toEqual([]);
		expect(await count("SELECT count(*)::int AS n FROM order_history WHERE step = 'expired'")).toBe(TOTAL);

		// One `order.cancelled` per order, each with cause `expired`.
		const cancelledNotOnce = await queryDatabase<{ id: string; n: number }>(
			ordersDb.url,
			`SELECT o.id, count(e.id)::int AS n FROM orders o
			 LEFT JOIN outbox_events e ON e.event_name = 'order.cancelled' AND e.payload->>'orderId' = o.id::text
			 GROUP BY o.id HAVING count(e.id) <> 1`
		);
		expect(cancelledNotOnce).toEqual([]);
		expect(await count("SELECT count(*)::int AS n FROM outbox_events WHERE event_name = 'order.cancelled' AND payload->>'cause' = 'expired'")).toBe(TOTAL);
		expect(await count("SELECT count(*)::int AS n FROM outbox_events WHERE event_name = 'order.cancelled'")).toBe(TOTAL);

		// Each node counted exactly the orders it expired, and the nodes' counts add up to the orders.
		const byNode = await queryDatabase<{ node_id: string; n: number }>(
			ordersDb.url,
			"SELECT node_id, count(*)::int AS n FROM order_history WHERE step = 'expired' GROUP BY node_id"
		);
		const historyOf = (nodeID: string) => byNode.find(row => row.node_id === nodeID)?.n ?? 0;
		expect(nodes.map(expiredCountOf)).toEqual(NODES.map(historyOf));
		expect(nodes.map(expiredCountOf).reduce((a, b) => a + b, 0)).toBe(TOTAL);
		// The sweeps met: more than one node expired orders of the backlog.
		expect(byNode.filter(row => NODES.includes(row.node_id) && row.n > 0).length).toBeGreaterThan(1);

		// The relays published every cancellation (on to the processor's queue, which nobody reads here).
		await waitFor("the outboxes to publish every event", async () => (await count("SELECT count(*)::int AS n FROM outbox_events WHERE sent_at IS NULL")) === 0, 30_000);
	});
});

/**
 * The sweep's statement without its guards: the same UPDATE with neither `FOR UPDATE SKIP LOCKED`
 * nor the repeated status condition. PostgreSQL rechecks only the outer condition of a row that
 * another transaction changed, and the subquery's row still matches: the order expires again.
 */
const UNGUARDED_EXPIRY_SQL = `UPDATE orders SET status = 'expired', updated_at = now()
	WHERE id IN (SELECT id FROM orders WHERE status = 'pending' AND created_at < $createdBefore ORDER BY created_at LIMIT $limit)
	RETURNING id`;

describe("Two sweeps meeting on the same overdue orders (the guards of the sweep's statement)", () => {
	let ordersDb: TestDatabase;
	let node: OrdersNode;
	const ORDERS = 40;

	beforeAll(async () => {
		ordersDb = await createTestDatabase("orders_expiry_race");
		// A clock that never moves: the node's own sweeper stays out of the way.
		node = await startOrdersNode(ordersDb.url, { clock: new ManualClock() });
	});
	afterAll(async () => {
		await node?.broker.stop();
		await ordersDb?.drop();
	});

	/** Runs `first` in an open transaction, then `second` in another while the first holds its locks; the ids each expired. */
	async function twoSweeps(
		db: Sequelize,
		sweep: (t: Transaction) => Promise<string[]>,
		options: { secondWaitsForLocks: boolean }
	): Promise<[string[], string[]]> {
		const first = await db.transaction();
		let firstIds: string[] = [];
		try {
			firstIds = await sweep(first);
			const second = db.transaction(t => sweep(t));
			if (options.secondWaitsForLocks) {
				await waitFor("the second sweep to wait for the first one's row locks", async () => {
					const [row] = await queryDatabase<{ n: number }>(
						ordersDb.url,
						"SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
						[ordersDb.name]
					);
					return row.n > 0;
				});
			}
			const secondIds = options.secondWaitsForLocks ? undefined : await second;
			await first.commit();
			return [firstIds, secondIds ?? (await second)];
		} catch (err) {
			await first.rollback().catch(() => undefined);
			throw err;
		}
	}

	const overdue = () => new Date(Date.now() - 60_000);

	it("should expire each order twice without the row locks and the status condition", async () => {
		await insertOverdueOrders(ordersDb.url, "unguarded", ORDERS);
		const unguarded = async (t: Transaction) =>
			(
				await node.db.query<{ id: string }>(UNGUARDED_EXPIRY_SQL, {
					type: QueryTypes.SELECT,
					transaction: t,
					bind: { createdBefore: overdue(), limit: 100 }
				})
			).map(row => row.id);
		const [first, second] = await twoSweeps(node.db, unguarded, { secondWaitsForLocks: true });
		expect(first).toHaveLength(ORDERS);
		// The counts of the test above would see this: every order expired by both sweeps.
		expect(second.sort()).toEqual(first.sort());
	});

	it("should expire each order once with the sweep's own statement", async () => {
		await insertOverdueOrders(ordersDb.url, "guarded", ORDERS);
		const guarded = async (t: Transaction) =>
			(
				await expireOverdueOrders(node.db, t, {
					from: [OrderStatus.Pending],
					to: OrderStatus.Expired,
					createdBefore: overdue(),
					at: new Date(),
					limit: 100
				})
			).map(row => row.id);
		// SKIP LOCKED: the second sweep does not wait, it passes over the rows the first one holds.
		const [first, second] = await twoSweeps(node.db, guarded, { secondWaitsForLocks: false });
		expect(first).toHaveLength(ORDERS);
		expect(second).toEqual([]);
		// And once the first committed, a later sweep finds nothing left to expire.
		expect(await node.db.transaction(guarded)).toEqual([]);
	});
});
