/**
 * Idempotency-Keys on the orders service (one node, embedded PostgreSQL, no gateway): the actions
 * are called with the caller and the key the gateway would put in `ctx.meta`. A key belongs to its
 * caller: the same key and body replay the caller's first order, another body is a 422, and
 * another caller's same key is another key. A repeat while the first request is still being
 * processed is a 409 (across processes: test/integration/order-idempotency.spec.ts). A key lives
 * `idempotencyKeyTtlMs` from its first order's creation, then makes a new order.
 */
import { randomUUID } from "node:crypto";
import { QueryTypes, type Sequelize } from "sequelize";
import type { Caller } from "../../lib/auth/caller";
import type { OrderView } from "../../lib/contracts/orders";
import type { OrdersMeta } from "../../services/orders/orders.service";
import { holdNextCreate } from "../support/hold-create";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";
import { ManualClock } from "../support/manual-clock";

const items = [{ sku: "SKU-0001", quantity: 1, unitPrice: 5 }];
const customer = (name: string): Caller => ({ sub: `${name}-${randomUUID()}`, role: "customer" });

/** What a client of the gateway sees of one create: its status, the order, and whether it was replayed. */
interface Answer {
	status: number;
	order?: OrderView;
	replayed: boolean;
	type?: string;
	message?: string;
}

/** The test's hand on one node: creates as the gateway would call them, and the orders database. */
function idempotencyHarness(system: () => RunningSystem) {
	const db = (): Sequelize => (system().service("orders") as unknown as { adapter: { db: Sequelize } }).adapter.db;
	return {
		db,
		async create(user: Caller | undefined, key: string, body: object = {}): Promise<Answer> {
			const meta: OrdersMeta = { idempotencyKey: key, ...(user ? { user } : {}) };
			try {
				const order = await system().broker.call<OrderView, object>("orders.create", { items, currency: "EUR", ...body }, { meta });
				return { status: meta.$statusCode ?? 200, order, replayed: meta.$responseHeaders?.["Idempotent-Replayed"] === "true" };
			} catch (err) {
				const { code, type, message } = err as { code: number; type: string; message: string };
				return { status: code, replayed: false, type, message };
			}
		},
		rowsWithKey(key: string) {
			return db().query<{ id: string; customer_id: string; idempotency_scope: string }>(
				"SELECT id, customer_id, idempotency_scope FROM orders WHERE idempotency_key = :key ORDER BY created_at",
				{ type: QueryTypes.SELECT, replacements: { key } }
			);
		}
	};
}

describe("Idempotency-Keys of orders (orders on one node, embedded PostgreSQL)", () => {
	let system: RunningSystem;
	const { create, rowsWithKey } = idempotencyHarness(() => system);

	beforeAll(async () => {
		system = await startSystem({ services: ["orders"] });
	});
	afterAll(async () => {
		await system?.stop();
	});

	describe("When a caller repeats its own key", () => {
		it("should answer 201 with the first order and Idempotent-Replayed for the same body", async () => {
			const alice = customer("alice");
			const first = await create(alice, "k-same");
			const second = await create(alice, "k-same");

			expect(first).toMatchObject({ status: 201, replayed: false });
			expect(second).toMatchObject({ status: 201, replayed: true });
			// (updatedAt aside: the first answer carries the time it wrote, the store the time Sequelize wrote.)
			expect(second.order).toEqual({ ...first.order, updatedAt: expect.any(String) });
			expect(await rowsWithKey("k-same")).toHaveLength(1);
		});

		it("should take a body naming the caller itself as the same body as one naming nobody", async () => {
			const alice = customer("alice");
			const first = await create(alice, "k-implicit");
			const second = await create(alice, "k-implicit", { customerId: alice.sub });

			expect(second).toMatchObject({ status: 201, replayed: true, order: { id: first.order!.id } });
		});

		it("should answer 422 for another body, and keep the first order alone", async () => {
			const alice = customer("alice");
			const first = await create(alice, "k-other-body");
			const second = await create(alice, "k-other-body", { currency: "USD" });

			expect(second).toMatchObject({ status: 422, type: "IDEMPOTENCY_KEY_REUSED" });
			expect((await rowsWithKey("k-other-body")).map(r => r.id)).toEqual([first.order!.id]);
		});
	});

	describe("When a caller repeats its key while the first request is still being processed", () => {
		it("should answer 409 until the first one commits, then replay it", async () => {
			const alice = customer("alice");
			const held = holdNextCreate(system.service("orders"));
			const first = create(alice, "k-in-flight");
			await held.reached;

			const repeat = await create(alice, "k-in-flight");
			expect(repeat).toMatchObject({ status: 409, type: "IDEMPOTENCY_KEY_IN_FLIGHT" });
			expect(repeat.message).toBe("A request with Idempotency-Key 'k-in-flight' is still being processed; retry after it finishes.");

			held.release();
			expect(await first).toMatchObject({ status: 201, replayed: false });
			const retry = await create(alice, "k-in-flight");
			expect(retry).toMatchObject({ status: 201, replayed: true, order: { id: (await first).order!.id } });
			expect(await rowsWithKey("k-in-flight")).toHaveLength(1);
		});

		it("should free the key when the first request fails: the retry makes the order", async () => {
			const alice = customer("alice");
			const held = holdNextCreate(system.service("orders"));
			const first = create(alice, "k-failed");
			await held.reached;
			held.fail(new Error("the request died half-way"));

			expect(await first).toMatchObject({ status: undefined, message: "the request died half-way" });
			expect(await rowsWithKey("k-failed")).toEqual([]);
			expect(await create(alice, "k-failed")).toMatchObject({ status: 201, replayed: false });
		});
	});

	describe("When two callers send the same key", () => {
		it("should give each its own order, neither replayed nor refused, whatever the bodies", async () => {
			const [alice, bob] = [customer("alice"), customer("bob")];
			const key = `k-shared-${randomUUID()}`;
			const fromAlice = await create(alice, key);
			const fromBob = await create(bob, key, { currency: "USD" });
			const fromInside = await create(undefined, key, { customerId: bob.sub });

			for (const answer of [fromAlice, fromBob, fromInside]) expect(answer).toMatchObject({ status: 201, replayed: false });
			expect(fromAlice.order!.customerId).toBe(alice.sub);
			expect(fromBob.order!.customerId).toBe(bob.sub);
			expect(new Set([fromAlice.order!.id, fromBob.order!.id, fromInside.order!.id]).size).toBe(3);
			expect((await rowsWithKey(key)).map(r => [r.id, r.idempotency_scope])).toEqual([
				[fromAlice.order!.id, alice.sub],
				[fromBob.order!.id, bob.sub],
				[fromInside.order!.id, ""]
			]);

			// Each caller's retry still finds its own order.
			expect((await create(bob, key, { currency: "USD" })).order!.id).toBe(fromBob.order!.id);
			expect((await create(undefined, key, { customerId: bob.sub })).order!.id).toBe(fromInside.order!.id);
		});

		it("should scope an admin's key to the admin, even for an order of a customer who used the same key", async () => {
			const alice = customer("alice");
			const admin: Caller = { sub: `admin-${randomUUID()}`, role: "admin" };
			const key = `k-admin-${randomUUID()}`;
			const own = await create(alice, key);
			const onBehalf = await create(admin, key, { customerId: alice.sub });

			expect(onBehalf).toMatchObject({ status: 201, replayed: false, order: { customerId: alice.sub } });
			expect(onBehalf.order!.id).not.toBe(own.order!.id);
		});
	});
});

describe("Idempotency-Keys that expire (orders on one node, embedded PostgreSQL, keys living 1.5 s on a clock the test moves)", () => {
	const TTL_MS = 1500;
	let system: RunningSystem;
	const clock = new ManualClock();
	const { db, create, rowsWithKey } = idempotencyHarness(() => system);
	const orders = () =>
		system.service("orders") as unknown as {
			settings: { idempotencyKeyTtlMs: number };
			saga: { pruneIdempotencyKeys(): Promise<number> };
		};
	const expired = (order: OrderView) => {
		clock.advance(TTL_MS + 1);
		return waitFor(`the key of order ${order.id} to expire`, () => clock.now() > Date.parse(order.createdAt) + TTL_MS, 10_000, 20);
	};
	const keyColumns = (id: string) =>
		db().query<{ idempotency_key: string | null; idempotency_scope: string | null; request_hash: string | null }>(
			"SELECT idempotency_key, idempotency_scope, request_hash FROM orders WHERE id = :id",
			{ type: QueryTypes.SELECT, replacements: { id } }
		);

	beforeAll(async () => {
		// The periodic prune (every minute of the clock's) would race the tests that show a create
		// does without it: the clock never moves that far here, and the last test calls it.
		system = await startSystem({ services: ["orders"], clock });
		// IDEMPOTENCY_KEY_TTL_MS is at least a minute; the service reads its setting at each create.
		orders().settings.idempotencyKeyTtlMs = TTL_MS;
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should make a new order for a key older than its lifetime, and take the key off the old order in the same create", async () => {
		const alice = customer("alice");
		const first = await create(alice, "k-expiring");
		expect(await create(alice, "k-expiring")).toMatchObject({ status: 201, replayed: true });
		await expired(first.order!);
		expect(await keyColumns(first.order!.id)).toEqual([{ idempotency_key: "k-expiring", idempotency_scope: alice.sub, request_hash: expect.any(String) }]);

		const again = await create(alice, "k-expiring");
		expect(again).toMatchObject({ status: 201, replayed: false });
		expect(again.order!.id).not.toBe(first.order!.id);
		expect((await rowsWithKey("k-expiring")).map(r => r.id)).toEqual([again.order!.id]);
		expect(await keyColumns(first.order!.id)).toEqual([{ idempotency_key: null, idempotency_scope: null, request_hash: null }]);
	});

	it("should take another body with an expired key as a new order, not as a reused key", async () => {
		const alice = customer("alice");
		const first = await create(alice, "k-expired-other-body");
		await expired(first.order!);

		expect(await create(alice, "k-expired-other-body", { currency: "USD" })).toMatchObject({ status: 201, replayed: false, order: { currency: "USD" } });
	});

	it("should prune the expired keys and keep the live ones", async () => {
		const alice = customer("alice");
		const old = await create(alice, "k-pruned");
		await expired(old.order!);
		const live = await create(alice, "k-live");

		expect(await orders().saga.pruneIdempotencyKeys()).toBeGreaterThanOrEqual(1);
		expect(await keyColumns(old.order!.id)).toEqual([{ idempotency_key: null, idempotency_scope: null, request_hash: null }]);
		expect(await rowsWithKey("k-live")).toEqual([expect.objectContaining({ id: live.order!.id })]);
		expect(await create(alice, "k-live")).toMatchObject({ status: 201, replayed: true, order: { id: live.order!.id } });
		expect(await create(alice, "k-pruned")).toMatchObject({ status: 201, replayed: false });
	});
});
