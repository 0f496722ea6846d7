/**
 * What a node offers around the API itself: the per-caller rate limit (in memory: no
 * RATE_LIMIT_DATABASE_URL) and the Prometheus endpoint.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { hostname, userInfo } from "node:os";
import { startSystem, type RunningSystem } from "../support/system";

describe("Gateway limits and metrics", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		system = await startSystem({ env: { RATE_LIMIT_PER_MINUTE: "3", METRICS_PORT: "0" } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should give each caller (token subject) its own budget, and answer 429 with Retry-After once it is spent", async () => {
		const alice = await system.httpAs("limit-alice");
		const bob = await system.httpAs("limit-bob");
		const answers = [];
		for (let i = 0; i < 4; i++) answers.push(await alice.get("/api/orders"));

		expect(answers.map(r => r.status)).toEqual([200, 200, 200, 429]);
		expect(answers.map(r => r.headers["ratelimit-remaining"])).toEqual(["2", "1", "0", "0"]);
		expect(answers[0].headers["ratelimit-limit"]).toBe("3");
		const limited = answers[3];
		expect(limited.headers["content-type"]).toContain("application/problem+json");
		expect(limited.body).toMatchObject({ status: 429, title: "Too many requests", code: "RATE_LIMITED" });
		expect(limited.body.detail).toContain("3 per minute");
		expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
		expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(60);

		// Another caller behind the same address is not held back by the first.
		expect((await bob.get("/api/orders")).status).toBe(200);
	});

	it("should count requests without a usable token against the client address, refused tokens included", async () => {
		const anonymous = [];
		for (let i = 0; i < 2; i++) anonymous.push(await system.anonymous().get("/api/orders"));
		anonymous.push(await system.anonymous().get("/api/orders").set("Authorization", "Bearer forged.token.here"));
		const fourth = await system.anonymous().get("/api/orders").set("Authorization", "Bearer another.forged.one");

		expect(anonymous.map(r => r.status)).toEqual([401, 401, 401]);
		expect(fourth.status).toBe(429);
		// A valid token is its own caller, whatever the address has spent.
		expect((await (await system.httpAs("limit-carol")).get("/api/orders")).status).toBe(200);
	});

	it("should not count the health routes, which probes call all the time", async () => {
		const answers = [];
		for (let i = 0; i < 6; i++) answers.push((await system.anonymous().get("/api/health/live")).status);
		expect(answers).toEqual([200, 200, 200, 200, 200, 200]);
	});

	it("should not let a client pick its address with X-Forwarded-For when no proxy is trusted", async () => {
		const spoofed = await system.anonymous().get("/api/orders").set("X-Forwarded-For", "203.0.113.77");
		expect(spoofed.status).toBe(429);
	});

	it("should serve Prometheus metrics, including the gateway's request counters", async () => {
		const reporter = (system.broker as unknown as { metrics: { reporter: Array<{ server?: Server }> } }).metrics.reporter[0];
		const port = (reporter.server!.address() as AddressInfo).port;

		const res = await fetch(`http://127.0.0.1:${port}/metrics`);
		const text = await res.text();

		expect(res.status).toBe(200);
		expect(text).toMatch(/^# HELP moleculer_request_total/m);
		expect(text).toMatch(/moleculer_request_total\{[^}]*action="api\.live"[^}]*\} [1-9]/);
	});

	it("should listen for scrapes on the loopback address only, unless METRICS_HOST says otherwise", () => {
		const reporter = (system.broker as unknown as { metrics: { reporter: Array<{ server?: Server }> } }).metrics.reporter[0];
		expect((reporter.server!.address() as AddressInfo).address).toBe("127.0.0.1");
	});

	it("should tell nothing about the host, its user or the command line", async () => {
		const reporter = (system.broker as unknown as { metrics: { reporter: Array<{ server?: Server }> } }).metrics.reporter[0];
		const text = await (await fetch(`http://127.0.0.1:${(reporter.server!.address() as AddressInfo).port}/metrics`)).text();

		// Moleculer knows them; the endpoint does not show them.
		const registry = (system.broker as unknown as { metrics: { getMetric(name: string): { values: Map<unknown, unknown> } } }).metrics;
		expect(registry.getMetric("os.hostname").values.size).toBe(1);
		expect(text).toMatch(/^os_memory_total/m);
		for (const name of ["os_hostname", "os_user_homedir", "os_user_username", "os_network_mac", "os_network_address", "process_arguments"]) {
			expect(text).not.toMatch(new RegExp(`^${name}`, "m"));
		}
		expect(text).not.toContain(userInfo().homedir);
		expect(text).not.toContain(`"${hostname()}"`);
	});
});
