/**
 * Idempotency-Keys on the real PostgreSQL: a repeat of a request still being processed is a 409 on
 * every orders instance, not just the one processing it, and a dead connection leaves no key
 * locked; the upgrade that scopes keys to their caller keeps the orders placed before it
 * replayable by their customer.
 */
import { Sequelize } from "sequelize";
import type { Caller } from "../../lib/auth/caller";
import { migrate } from "../../lib/database/migrator";
import type { OrderView } from "../../lib/contracts/orders";
import { requestFingerprint } from "../../services/orders/orders.domain";
import { ordersMigrations } from "../../services/orders/orders.migrations";
import type { OrdersMeta } from "../../services/orders/orders.service";
import { holdNextCreate } from "../support/hold-create";
import { startSystem, type RunningSystem } from "../support/system";
import { createTestDatabase, queryDatabase, type TestDatabase } from "../support/services";

const items = [{ sku: "SKU-0001", quantity: 1, unitPrice: 5 }];
const quiet = { info: () => undefined };

/** What a client of the gateway sees of one create: its status, the order, whether it was replayed. */
interface Answer {
	status: number;
	order?: OrderView;
	replayed: boolean;
	type?: string;
}

/** Creates an order on `node` as the gateway would for `user` with `key`. */
async function create(node: RunningSystem, user: Caller | undefined, key: string, body: object = {}): Promise<Answer> {
	const meta: OrdersMeta = { idempotencyKey: key, ...(user ? { user } : {}) };
	try {
		const order = await node.broker.call<OrderView, object>("orders.create", { items, currency: "EUR", ...body }, { meta });
		return { status: meta.$statusCode ?? 200, order, replayed: meta.$responseHeaders?.["Idempotent-Replayed"] === "true" };
	} catch (err) {
		const { code, type } = err as { code?: number; type?: string };
		return { status: code ?? 500, replayed: false, type };
	}
}

describe("Idempotency-Keys with two orders instances on one PostgreSQL database", () => {
	let ordersDb: TestDatabase;
	let nodes: RunningSystem[] = [];
	const alice: Caller = { sub: "alice", role: "customer" };
	const bob: Caller = { sub: "bob", role: "customer" };
	const ordersWithKey = (key: string) =>
		queryDatabase<{ id: string; scope: string }>(
			ordersDb.url,
			"SELECT id::text, idempotency_scope AS scope FROM orders WHERE idempotency_key = $1 ORDER BY idempotency_scope",
			[key]
		);

	beforeAll(async () => {
		ordersDb = await createTestDatabase("orders_idem");
		for (const name of ["orders-a", "orders-b"]) {
			nodes.push(await startSystem({ services: ["orders"], env: { ORDERS_DATABASE_URL: ordersDb.url, NODEID: name } }));
		}
	});
	afterAll(async () => {
		await Promise.all(nodes.map(node => node.stop()));
		nodes = [];
		await ordersDb?.drop();
	});

	it("should answer 409 on both instances while the first request is in its transaction, let another caller's same key through, then replay it", async () => {
		const [a, b] = nodes;
		const held = holdNextCreate(a.service("orders"));
		const first = create(a, alice, "k-cross");
		await held.reached;

		expect(await create(b, alice, "k-cross")).toMatchObject({ status: 409, type: "IDEMPOTENCY_KEY_IN_FLIGHT" });
		expect(await create(a, alice, "k-cross")).toMatchObject({ status: 409, type: "IDEMPOTENCY_KEY_IN_FLIGHT" });
		const bobs = await create(b, bob, "k-cross");
		expect(bobs).toMatchObject({ status: 201, replayed: false, order: { customerId: "bob" } });
		expect(await create(b, alice, "k-cross-other")).toMatchObject({ status: 201, replayed: false });

		held.release();
		const created = await first;
		expect(created).toMatchObject({ status: 201, replayed: false, order: { customerId: "alice" } });
		expect(await create(b, alice, "k-cross")).toMatchObject({ status: 201, replayed: true, order: { id: created.order!.id } });
		expect(await ordersWithKey("k-cross")).toEqual([
			{ id: created.order!.id, scope: "alice" },
			{ id: bobs.order!.id, scope: "bob" }
		]);
	});

	it("should free the key at once when the connection of the request in flight dies, as with a crashed process", async () => {
		const [a, b] = nodes;
		const held = holdNextCreate(a.service("orders"));
		const first = create(a, alice, "k-crash");
		await held.reached;
		expect(await create(b, alice, "k-crash")).toMatchObject({ status: 409 });

		// What PostgreSQL sees of a process that dies: its connection goes, its transaction with it.
		const terminated = await queryDatabase<{ done: boolean }>(
			ordersDb.url,
			`SELECT pg_terminate_backend(pid, 10000) AS done FROM pg_locks
			 WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
		);
		expect(terminated).toEqual([{ done: true }]);

		const retried = await create(b, alice, "k-crash");
		expect(retried).toMatchObject({ status: 201, replayed: false });
		held.release();
		expect((await first).status).toBe(500);
		// The instance whose request died holds nothing either: its retry finds the order made meanwhile.
		expect(await create(a, alice, "k-crash")).toMatchObject({ status: 201, replayed: true, order: { id: retried.order!.id } });
		expect(await ordersWithKey("k-crash")).toEqual([{ id: retried.order!.id, scope: "alice" }]);
	});
});

describe("Scoping the Idempotency-Keys of a database that has orders already", () => {
	let ordersDb: TestDatabase;
	let node: RunningSystem | undefined;

	beforeAll(async () => {
		ordersDb = await createTestDatabase("orders_idem_upgrade");
	});
	afterAll(async () => {
		await node?.stop();
		await ordersDb?.drop();
	});

	it("should give each keyed order its customer as scope, and replay it to that customer only", async () => {
		const before = ordersMigrations.findIndex(m => m.name === "005-scope-idempotency-keys");
		const sequelize = new Sequelize(ordersDb.url, { dialect: "postgres", logging: false });
		try {
			await migrate(sequelize, ordersMigrations.slice(0, before), quiet, "test", false);
			await sequelize.query(
				`INSERT INTO orders (id, customer_id, items, total_amount, currency, status, correlation_id, idempotency_key, request_hash, created_at, updated_at)
				 VALUES ('11111111-1111-4111-8111-111111111111', 'old-alice', :items, 5, 'EUR', 'completed', 'c1', 'old-key', :hash, now(), now()),
				        ('22222222-2222-4222-8222-222222222222', 'old-bob', :items, 5, 'EUR', 'completed', 'c2', NULL, NULL, now(), now())`,
				{
					replacements: {
						items: JSON.stringify(items),
						// The fingerprint the service computed for { customerId: 'old-alice', items, currency: 'EUR' }.
						hash: requestFingerprint({ customerId: "old-alice", items, currency: "EUR" })
					}
				}
			);
		} finally {
			await sequelize.close();
		}

		node = await startSystem({ services: ["orders"], env: { ORDERS_DATABASE_URL: ordersDb.url } });

		expect(await queryDatabase(ordersDb.url, "SELECT customer_id, idempotency_key, idempotency_scope FROM orders ORDER BY customer_id")).toEqual([
			{ customer_id: "old-alice", idempotency_key: "old-key", idempotency_scope: "old-alice" },
			{ customer_id: "old-bob", idempotency_key: null, idempotency_scope: null }
		]);
		const retried = await create(node, { sub: "old-alice", role: "customer" }, "old-key");
		expect(retried).toMatchObject({ replayed: true, order: { id: "11111111-1111-4111-8111-111111111111" } });

		// The key is no longer unique across callers: someone else's 'old-key' is a new order.
		const other = await create(node, { sub: "old-bob", role: "customer" }, "old-key");
		expect(other).toMatchObject({ replayed: false, order: { customerId: "old-bob" } });
	});
});
