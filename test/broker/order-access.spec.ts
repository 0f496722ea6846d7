/**
 * Who may do what with orders (the orders service on one node, embedded PostgreSQL, no gateway):
 * the actions are called with the caller the gateway would put in `ctx.meta.user`. A customer
 * places, reads, lists and cancels its own orders only, and another customer's order is as unknown
 * to it as one that does not exist; an admin acts on all; a call without a caller (the REPL,
 * another service) is not restricted and must name the customer.
 */
import { randomUUID } from "node:crypto";
import { QueryTypes, type Sequelize } from "sequelize";
import type { Caller } from "../../lib/auth/caller";
import type { OrderHistory } from "../../lib/contracts/history";
import type { OrderPage, OrderView } from "../../lib/contracts/orders";
import { OrderNotFoundError } from "../../services/orders/orders.errors";
import { startSystem, type RunningSystem } from "../support/system";

const items = [{ sku: "SKU-0001", quantity: 1, unitPrice: 5 }];
const alice: Caller = { sub: `alice-${randomUUID()}`, role: "customer" };
const bob: Caller = { sub: `bob-${randomUUID()}`, role: "customer" };
const admin: Caller = { sub: `admin-${randomUUID()}`, role: "admin" };

interface CallError {
	name: string;
	message: string;
	code: number;
	type: string;
	data: unknown;
}

describe("Orders and their callers (orders on one node, embedded PostgreSQL)", () => {
	let system: RunningSystem;
	const db = (): Sequelize => (system.service("orders") as unknown as { adapter: { db: Sequelize } }).adapter.db;
	const call = <T>(action: string, params: object, user?: Caller) =>
		system.broker.call<T, object>(`orders.${action}`, params, { meta: user ? { user } : {} });
	const failure = (promise: Promise<unknown>) =>
		promise.then(
			value => {
				throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
			},
			(err: CallError) => ({ name: err.name, message: err.message, code: err.code, type: err.type, data: err.data })
		);
	const place = (user: Caller | undefined, customerId?: string) => call<OrderView>("create", { items, currency: "EUR", ...(customerId ? { customerId } : {}) }, user);
	const ordersOf = (customerId: string) =>
		db().query<{ id: string; status: string }>("SELECT id, status FROM orders WHERE customer_id = :customerId ORDER BY created_at", {
			type: QueryTypes.SELECT,
			replacements: { customerId }
		});
	/** What a customer is told for an order that does not exist, to compare with what it is told for another's. */
	const unknownOrder = (id: string) => {
		const err = new OrderNotFoundError(id);
		return { name: err.name, message: err.message, code: err.code, type: err.type, data: err.data };
	};

	beforeAll(async () => {
		system = await startSystem({ services: ["orders"] });
	});
	afterAll(async () => {
		await system?.stop();
	});

	describe("When a customer places an order", () => {
		it("should make it its own when the body names no customer, or names itself", async () => {
			const implicit = await place(alice);
			const explicit = await place(alice, alice.sub);

			expect([implicit.customerId, explicit.customerId]).toEqual([alice.sub, alice.sub]);
			expect((await ordersOf(alice.sub)).map(o => o.id)).toEqual(expect.arrayContaining([implicit.id, explicit.id]));
		});

		it("should answer 403 and store nothing when the body names another customer", async () => {
			const victim = `victim-${randomUUID()}`;
			const err = await failure(place(alice, victim));

			expect(err).toMatchObject({ code: 403, type: "FORBIDDEN_CUSTOMER" });
			expect(err.message).toBe(`A customer may place orders only for itself; omit customerId or send '${alice.sub}'.`);
			expect(await ordersOf(victim)).toEqual([]);
		});
	});

	describe("When an admin places an order", () => {
		it("should place it for whichever customer the body names, or for itself without one", async () => {
			const forBob = await place(admin, bob.sub);
			const own = await place(admin);

			expect(forBob.customerId).toBe(bob.sub);
			expect(own.customerId).toBe(admin.sub);
		});
	});

	describe("When a call from inside the cluster places an order", () => {
		it("should place it for the customer the body names, as before", async () => {
			expect((await place(undefined, bob.sub)).customerId).toBe(bob.sub);
		});

		it("should answer a validation error naming 'customerId' when the body names none", async () => {
			const err = await failure(place(undefined));

			expect(err).toMatchObject({ name: "ValidationError", type: "VALIDATION_ERROR", data: [{ field: "customerId", message: "is required", type: "required" }] });
		});
	});

	describe("When a customer asks for another customer's order", () => {
		it("should answer exactly as for an order that does not exist, for get, history and cancel", async () => {
			const bobs = await place(bob);
			const missing = randomUUID();

			for (const action of ["get", "history", "cancel"]) {
				expect(await failure(call(action, { id: bobs.id }, alice))).toEqual(unknownOrder(bobs.id));
				expect(await failure(call(action, { id: missing }, alice))).toEqual(unknownOrder(missing));
			}
		});

		it("should leave the order as it was when the cancel is refused: still pending, nothing sent, no history step", async () => {
			const bobs = await place(bob);
			await failure(call("cancel", { id: bobs.id, reason: "not mine" }, alice));

			expect(await ordersOf(bob.sub)).toContainEqual({ id: bobs.id, status: "pending" });
			const [{ sent }] = await db().query<{ sent: number }>(
				"SELECT count(*)::int AS sent FROM outbox_events WHERE event_name = 'order.cancelled' AND payload->>'orderId' = :id",
				{ type: QueryTypes.SELECT, replacements: { id: bobs.id } }
			);
			expect(sent).toBe(0);
			const history = await call<OrderHistory>("history", { id: bobs.id }, bob);
			expect(history.entries.map(e => e.step)).toEqual(["created"]);
		});
	});

	describe("When a customer acts on its own order", () => {
		it("should read it, read its history and cancel it", async () => {
			const own = await place(alice);

			expect((await call<OrderView>("get", { id: own.id }, alice)).id).toBe(own.id);
			expect((await call<OrderHistory>("history", { id: own.id }, alice)).orderId).toBe(own.id);
			expect((await call<OrderView>("cancel", { id: own.id }, alice)).status).toBe("cancelled");
		});
	});

	describe("When an admin or a call from inside the cluster acts on anyone's order", () => {
		it("should read and cancel it", async () => {
			const first = await place(bob);
			const second = await place(bob);

			expect((await call<OrderView>("get", { id: first.id }, admin)).customerId).toBe(bob.sub);
			expect((await call<OrderHistory>("history", { id: first.id }, admin)).orderId).toBe(first.id);
			expect((await call<OrderView>("cancel", { id: first.id }, admin)).status).toBe("cancelled");
			expect((await call<OrderView>("get", { id: second.id })).customerId).toBe(bob.sub);
			expect((await call<OrderView>("cancel", { id: second.id })).status).toBe("cancelled");
		});
	});

	describe("When listing orders", () => {
		const lister: Caller = { sub: `lister-${randomUUID()}`, role: "customer" };
		const other: Caller = { sub: `other-${randomUUID()}`, role: "customer" };
		let own: string[];
		let others: string[];

		beforeAll(async () => {
			own = [(await place(lister)).id, (await place(lister)).id];
			others = [(await place(other)).id];
		});

		it("should show a customer its own orders only, with or without naming itself", async () => {
			const all = await call<OrderPage>("list", { pageSize: 100 }, lister);
			const named = await call<OrderPage>("list", { customerId: lister.sub, pageSize: 100 }, lister);

			for (const page of [all, named]) {
				expect(page.rows.map(o => o.id).sort()).toEqual([...own].sort());
				expect(page.total).toBe(2);
			}
		});

		it("should answer 403 to a customer filtering on another customer", async () => {
			const err = await failure(call("list", { customerId: other.sub }, lister));

			expect(err).toMatchObject({ code: 403, type: "FORBIDDEN_CUSTOMER" });
			expect(err.message).toBe(`A customer may list only its own orders; omit customerId or send '${lister.sub}'.`);
		});

		it("should show an admin and a call from inside the cluster every order, filtered as asked", async () => {
			const filtered = await call<OrderPage>("list", { customerId: other.sub }, admin);
			expect(filtered.rows.map(o => o.id)).toEqual(others);

			for (const user of [admin, undefined]) {
				const everything = await call<OrderPage>("list", { pageSize: 100 }, user);
				expect(everything.rows.map(o => o.id)).toEqual(expect.arrayContaining([...own, ...others]));
				expect(everything.total).toBeGreaterThan(3);
			}
		});
	});
});
