import type { Context } from "moleculer";
import { authorizeCaller, guardCall, limitCallerRate, screenRouteQuery } from "../../../../services/api/api.guards";
import { routeOf } from "../../../../services/api/routes";
import type { CallerRateLimiter } from "../../../../lib/http/rate-limit";
import { fakeRequest, fakeResponse } from "./fake-http";

const contextOf = () => ({ meta: {} }) as Context<unknown, Record<string, unknown>>;

describe("Test 'guardCall'", () => {
	it("should hand the action the caller's correlation id and Idempotency-Key, and answer the id", () => {
		const ctx = contextOf();
		const { res, written } = fakeResponse();
		guardCall(ctx, fakeRequest({ headers: { "x-correlation-id": "corr-1", "idempotency-key": "key-1" } }), res, false);
		expect(ctx.meta).toEqual({ correlationId: "corr-1", idempotencyKey: "key-1" });
		expect(written.headers["x-correlation-id"]).toBe("corr-1");
	});

	it("should refuse a body that is not JSON on a route that reads bodies, and take any JSON media type", () => {
		const post = (type: string) => fakeRequest({ method: "POST", headers: { "content-type": type, "content-length": "2" } });
		expect(() => guardCall(contextOf(), post("text/plain"), fakeResponse().res, true)).toThrow(expect.objectContaining({ code: 415 }));
		expect(() => guardCall(contextOf(), post("application/merge-patch+json"), fakeResponse().res, true)).not.toThrow();
		expect(() => guardCall(contextOf(), post("text/plain"), fakeResponse().res, false)).not.toThrow();
	});

	it("should refuse a body nested deeper than any request needs, and a malformed Idempotency-Key", () => {
		let deep: unknown = 1;
		for (let i = 0; i < 40; i++) deep = [deep];
		expect(() => guardCall(contextOf(), fakeRequest({ body: deep }), fakeResponse().res, true)).toThrow(expect.objectContaining({ code: 400 }));
		const badKey = fakeRequest({ headers: { "idempotency-key": "a key with spaces" } });
		expect(() => guardCall(contextOf(), badKey, fakeResponse().res, false)).toThrow(expect.objectContaining({ code: 400, type: "INVALID_HEADER" }));
	});
});

describe("Test 'screenRouteQuery'", () => {
	it("should drop on a GET the parameters its operation does not list, and refuse one given twice", () => {
		const list = routeOf("GET", "/api/orders")!;
		const req = fakeRequest({ url: "/api/orders?pageSize=5&_=1700000000" });
		expect(screenRouteQuery(req, list)).toBeNull();
		expect(req.url).toBe("/api/orders?pageSize=5");
		expect(screenRouteQuery(fakeRequest({ url: "/api/orders?pageSize=5&pageSize=6" }), list)).toEqual(expect.objectContaining({ code: 400 }));
	});
});

describe("Test 'limitCallerRate'", () => {
	const limiter = (allowed: boolean, perMinute = 10) =>
		({ perMinute, consume: async () => ({ allowed, limit: perMinute, remaining: allowed ? 3 : 0, resetSeconds: 30, retryAfterSeconds: 30 }) }) as unknown as CallerRateLimiter;

	it("should say the caller's budget in RateLimit headers, and answer 429 once it is spent", async () => {
		const { res, written } = fakeResponse();
		await limitCallerRate(limiter(true), fakeRequest({}), res, "c-1", []);
		expect(written.headers).toEqual(expect.objectContaining({ "ratelimit-limit": "10", "ratelimit-remaining": "3", "ratelimit-reset": "30" }));
		await expect(limitCallerRate(limiter(false), fakeRequest({}), fakeResponse().res, "c-1", [])).rejects.toEqual(expect.objectContaining({ code: 429 }));
	});

	it("should count nothing and write no header when the limit is off", async () => {
		const { res, written } = fakeResponse();
		await limitCallerRate(limiter(false, 0), fakeRequest({}), res, undefined, []);
		expect(written.headers).toEqual({});
	});
});

describe("Test 'authorizeCaller'", () => {
	it("should let only an admin call an admin route, and any caller the others", () => {
		const customer = { sub: "c-1", role: "customer" as const };
		expect(() => authorizeCaller(customer, "deadLetters.list")).toThrow(expect.objectContaining({ code: 403 }));
		expect(() => authorizeCaller({ sub: "a-1", role: "admin" as const }, "deadLetters.list")).not.toThrow();
		expect(() => authorizeCaller(customer, "orders.get")).not.toThrow();
	});
});
