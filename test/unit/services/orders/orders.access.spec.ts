import { Errors } from "moleculer";
import type { Caller } from "../../../../lib/auth/caller";
import { callerOf, customerFilterOfList, customerOfNewOrder, idempotencyScope, ownCustomerId, visibleTo } from "../../../../services/orders/orders.access";
import { ForbiddenCustomerError } from "../../../../services/orders/orders.errors";

const alice: Caller = { sub: "alice", role: "customer" };
const admin: Caller = { sub: "root", role: "admin" };

/** The error `fn` throws, for assertions on its fields. */
function thrown(fn: () => unknown): Errors.MoleculerError {
	try {
		fn();
	} catch (err) {
		return err as Errors.MoleculerError;
	}
	throw new Error("expected an error");
}

describe("Test 'callerOf'", () => {
	it("should return the gateway's user, or null for a call from inside the cluster", () => {
		expect(callerOf({ user: alice })).toBe(alice);
		expect(callerOf({})).toBeNull();
		expect(callerOf({ user: null })).toBeNull();
		expect(callerOf(undefined)).toBeNull();
	});
});

describe("Test 'ownCustomerId'", () => {
	it("should limit a customer to its own id and nobody else", () => {
		expect(ownCustomerId(alice)).toBe("alice");
		expect(ownCustomerId(admin)).toBeNull();
		expect(ownCustomerId(null)).toBeNull();
	});

	it("should limit a caller of an unknown role like a customer", () => {
		expect(ownCustomerId({ sub: "mallory", role: "superuser" } as unknown as Caller)).toBe("mallory");
	});
});

describe("Test 'customerOfNewOrder'", () => {
	it("should make an omitted customer the caller's own, customer or admin", () => {
		expect(customerOfNewOrder(undefined, alice)).toBe("alice");
		expect(customerOfNewOrder(undefined, admin)).toBe("root");
	});

	it("should accept a customer naming itself, and an admin naming anyone", () => {
		expect(customerOfNewOrder("alice", alice)).toBe("alice");
		expect(customerOfNewOrder("bob", admin)).toBe("bob");
	});

	it("should refuse a customer naming another one with a 403 that says what to send", () => {
		const err = thrown(() => customerOfNewOrder("bob", alice));
		expect(err).toBeInstanceOf(ForbiddenCustomerError);
		expect(err).toMatchObject({ code: 403, type: "FORBIDDEN_CUSTOMER", data: { customerId: "bob" } });
		expect(err.message).toBe("A customer may place orders only for itself; omit customerId or send 'alice'.");
	});

	it("should require a customer from a call without a caller, as a missing field", () => {
		expect(customerOfNewOrder("bob", null)).toBe("bob");
		const err = thrown(() => customerOfNewOrder(undefined, null));
		expect(err).toBeInstanceOf(Errors.ValidationError);
		expect(err).toMatchObject({ code: 422, type: "VALIDATION_ERROR", data: [{ field: "customerId", message: "is required", type: "required" }] });
	});
});

describe("Test 'customerFilterOfList'", () => {
	it("should force a customer's filter to its own id, named or not", () => {
		expect(customerFilterOfList(undefined, alice)).toBe("alice");
		expect(customerFilterOfList("alice", alice)).toBe("alice");
	});

	it("should refuse a customer filtering on another one with a 403", () => {
		const err = thrown(() => customerFilterOfList("bob", alice));
		expect(err).toMatchObject({ code: 403, type: "FORBIDDEN_CUSTOMER" });
		expect(err.message).toBe("A customer may list only its own orders; omit customerId or send 'alice'.");
	});

	it("should leave an admin's and an inside call's filter as asked", () => {
		expect(customerFilterOfList("bob", admin)).toBe("bob");
		expect(customerFilterOfList(undefined, admin)).toBeUndefined();
		expect(customerFilterOfList(undefined, null)).toBeUndefined();
	});
});

describe("Test 'visibleTo'", () => {
	it("should show a customer its own orders and the others everything", () => {
		expect(visibleTo(alice)).toEqual({ customerId: "alice" });
		expect(visibleTo(admin)).toEqual({});
		expect(visibleTo(null)).toEqual({});
	});
});

describe("Test 'idempotencyScope'", () => {
	it("should scope a key to its caller, whatever its role, and to '' without a caller", () => {
		expect(idempotencyScope(alice)).toBe("alice");
		expect(idempotencyScope(admin)).toBe("root");
		expect(idempotencyScope(null)).toBe("");
	});
});
