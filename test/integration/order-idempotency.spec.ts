/**
 * Idempotency-Keys on the real PostgreSQL: the upgrade that scopes keys to their caller keeps the
 * orders placed before it replayable by their customer.
 */
import { Sequelize } from "sequelize";
import type { Caller } from "../../lib/auth/caller";
import { migrate } from "../../lib/database/migrator";
import type { OrderView } from "../../lib/contracts/orders";
import { requestFingerprint } from "../../services/orders/orders.domain";
import { ordersMigrations } from "../../services/orders/orders.migrations";
import type { OrdersMeta } from "../../services/orders/orders.service";
import { startSystem, type RunningSystem } from "../support/system";
import { createTestDatabase, queryDatabase, type TestDatabase } from "../support/services";

const items = [{ sku: "SKU-0001", quantity: 1, unitPrice: 5 }];
const quiet = { info: () => undefined };

/** Creates an order on `node` as the gateway would for `user` with `key`; answers what a client would see. */
async function create(node: RunningSystem, user: Caller | undefined, key: string, body: object = {}) {
	const meta: OrdersMeta = { idempotencyKey: key, ...(user ? { user } : {}) };
	const order = await node.broker.call<OrderView, object>("orders.create", { items, currency: "EUR", ...body }, { meta });
	return { order, replayed: meta.$responseHeaders?.["Idempotent-Replayed"] === "true" };
}

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
