/**
 * The front door: a person who opens the server's address, or `/api` as the README names it, is led
 * to the docs page and the OpenAPI document instead of a 404. No token is needed for either.
 */
import request from "supertest";
import { startSystem, type RunningSystem } from "../support/system";

describe("Gateway front door: '/' and '/api'", () => {
	let system: RunningSystem;
	const anonymous = () => system.anonymous();

	beforeAll(async () => {
		system = await startSystem({ services: ["api"] });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should send a browser that opens '/' to the docs page", async () => {
		const res = await anonymous().get("/").redirects(0);
		expect(res.status).toBe(302);
		expect(res.headers.location).toBe("/api/docs");

		const followed = await anonymous().get("/").redirects(1);
		expect(followed.status).toBe(200);
		expect(followed.headers["content-type"]).toContain("text/html");
	});

	it("should tell an API client at '/api' where the docs, the OpenAPI document and the health check are", async () => {
		for (const path of ["/api", "/api/"]) {
			const res = await anonymous().get(path);
			expect(res.status).toBe(200);
			expect(res.headers["content-type"]).toContain("application/json");
			expect(res.body).toEqual({ name: "order-pipeline", docs: "/api/docs", openapi: "/api/openapi.json", health: "/api/health/ready" });
		}
		const index = (await anonymous().get("/api")).body as Record<string, string>;
		expect((await anonymous().get(index.docs)).status).toBe(200);
		expect((await anonymous().get(index.openapi)).status).toBe(200);
		// An api node without orders of its own is not ready: the link leads to an answer all the same.
		expect([200, 503]).toContain((await anonymous().get(index.health)).status);
	});

	it("should answer HEAD like GET without a body, OPTIONS with the methods, and another method with 405", async () => {
		const head = await request(system.baseUrl).head("/");
		expect([head.status, head.headers.location, head.text]).toEqual([302, "/api/docs", undefined]);
		const apiHead = await anonymous().head("/api");
		expect([apiHead.status, apiHead.text]).toEqual([200, undefined]);

		const options = await anonymous().options("/api");
		expect([options.status, options.headers.allow]).toEqual([204, "GET, HEAD, OPTIONS"]);
		const post = await anonymous().post("/api").send({});
		expect(post.status).toBe(405);
		expect(post.headers.allow).toBe("GET, HEAD, OPTIONS");
		expect(post.headers["content-type"]).toContain("application/problem+json");
	});

	it("should carry the API's security headers and leave every other unknown path a 404", async () => {
		const res = await anonymous().get("/api");
		expect(res.headers["content-security-policy"]).toBe("default-src 'none';frame-ancestors 'none'");
		expect(res.headers["x-frame-options"]).toBe("DENY");
		expect((await anonymous().get("/index.html")).status).toBe(404);
		expect((await anonymous().get("/apix")).status).toBe(404);
	});
});
