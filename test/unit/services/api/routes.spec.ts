import { allowedMethods, isAllowedOrigin, pathOf, routeOf } from "../../../../services/api/routes";
import { nestsDeeperThan, screenQuery } from "../../../../services/api/gateway-http";

describe("Test 'allowedMethods'", () => {
	it("should list the methods of a path, with HEAD for GET and OPTIONS always", () => {
		expect(allowedMethods("/api/orders")).toEqual(["GET", "HEAD", "POST", "OPTIONS"]);
		expect(allowedMethods("/api/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427")).toEqual(["GET", "HEAD", "OPTIONS"]);
		expect(allowedMethods("/api/admin/stock/SKU-0001")).toEqual(["GET", "HEAD", "PUT", "OPTIONS"]);
	});

	it("should answer the saga's routes of an order: POST to cancel it, GET for its history", () => {
		expect(allowedMethods("/api/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427/cancel")).toEqual(["POST", "OPTIONS"]);
		expect(allowedMethods("/api/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427/history")).toEqual(["GET", "HEAD", "OPTIONS"]);
		expect(allowedMethods("/api/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427/refund")).toBeNull();
	});

	it("should join the methods of every route a path matches", () => {
		// 'replay' is a literal route (POST) and also an :id (GET, DELETE).
		expect(allowedMethods("/api/admin/dead-letters/replay")).toEqual(["GET", "HEAD", "POST", "DELETE", "OPTIONS"]);
	});

	it("should know no path outside the routes", () => {
		expect(allowedMethods("/api/nothing")).toBeNull();
		expect(allowedMethods("/api/orders/a/b")).toBeNull();
		expect(allowedMethods("/api")).toBeNull();
	});
});

describe("Test 'pathOf'", () => {
	it("should drop the query string and a trailing slash, as moleculer-web does", () => {
		expect(pathOf("/api/orders/?page=2")).toBe("/api/orders");
		expect(pathOf("/")).toBe("/");
		expect(pathOf(undefined)).toBe("/");
	});
});

describe("Test 'isAllowedOrigin'", () => {
	it("should allow only configured origins, or any with '*'", () => {
		expect(isAllowedOrigin("https://a.example", ["https://a.example"])).toBe(true);
		expect(isAllowedOrigin("https://b.example", ["https://a.example"])).toBe(false);
		expect(isAllowedOrigin("https://b.example", ["*"])).toBe(true);
		expect(isAllowedOrigin(undefined, ["*"])).toBe(false);
		expect(isAllowedOrigin("https://a.example", [])).toBe(false);
	});
});

describe("Test 'nestsDeeperThan'", () => {
	it("should count arrays and objects, not scalars", () => {
		expect(nestsDeeperThan({ items: [{ sku: "a" }] }, 3)).toBe(false);
		expect(nestsDeeperThan({ items: [{ sku: { x: 1 } }] }, 3)).toBe(true);
		expect(nestsDeeperThan("text", 0)).toBe(false);
		expect(nestsDeeperThan(undefined, 0)).toBe(false);
	});

	it("should walk a value 100,000 levels deep without a stack overflow", () => {
		let deep: unknown[] = [];
		for (let i = 0; i < 100_000; i++) deep = [deep];
		expect(nestsDeeperThan(deep, 32)).toBe(true);
	});
});

describe("Test 'routeOf'", () => {
	it("should find the route a method and path call, and none for another method or path", () => {
		expect(routeOf("GET", "/api/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427/history")?.action).toBe("orders.history");
		expect(routeOf("POST", "/api/admin/dead-letters/replay")?.action).toBe("deadLetters.replayAll");
		expect(routeOf("GET", "/api/admin/dead-letters/replay")?.action).toBe("deadLetters.get");
		expect(routeOf("PATCH", "/api/orders")).toBeUndefined();
		expect(routeOf("GET", "/api/nothing")).toBeUndefined();
	});
});

describe("Test 'screenQuery'", () => {
	const known = new Set(["status", "page"]);

	it("should let a GET go on without the parameters its operation does not list, keeping the others as sent", () => {
		expect(screenQuery("/api/orders?_=1700000000&status=pending&utm_source=x&page=2", known, true)).toEqual({ url: "/api/orders?status=pending&page=2" });
		expect(screenQuery("/api/orders?_=1", known, true)).toEqual({ url: "/api/orders" });
		expect(screenQuery("/api/orders?status=a%20b+c&&", known, true)).toEqual({ url: "/api/orders?status=a%20b+c" });
		expect(screenQuery("/api/orders", known, true)).toEqual({ url: "/api/orders" });
		expect(screenQuery("/api/orders?=1&__proto__=x", known, true)).toEqual({ url: "/api/orders" });
	});

	it("should refuse on any other method a parameter the operation does not list", () => {
		expect(screenQuery("/api/admin/dead-letters?orderID=x", known, false)).toEqual({ refused: { name: "orderID", reason: "unknown" } });
		expect(screenQuery("/api/admin/dead-letters?status=x", known, false)).toEqual({ url: "/api/admin/dead-letters?status=x" });
	});

	it("should refuse a nested or repeated parameter on every method, known or not, encoded or not", () => {
		for (const ignoreUnknown of [true, false]) {
			expect(screenQuery("/api/orders?customerId[$ne]=x", known, ignoreUnknown)).toEqual({ refused: { name: "customerId[$ne]", reason: "nested" } });
			expect(screenQuery("/api/orders?__proto__%5Badmin%5D=1", known, ignoreUnknown)).toEqual({ refused: { name: "__proto__[admin]", reason: "nested" } });
			expect(screenQuery("/api/orders?status=a&status=b", known, ignoreUnknown)).toEqual({ refused: { name: "status", reason: "repeated" } });
			expect(screenQuery("/api/orders?_=1&_=2", known, ignoreUnknown)).toEqual({ refused: { name: "_", reason: ignoreUnknown ? "repeated" : "unknown" } });
		}
	});
});
