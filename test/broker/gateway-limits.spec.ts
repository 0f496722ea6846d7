/**
 * What a node offers around the API itself: the per-client rate limit and the Prometheus endpoint.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { hostname, userInfo } from "node:os";
import { startSystem, type RunningSystem } from "../support/system";
import { freePort } from "../../scripts/support/local-services";

describe("Gateway limits and metrics", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		// A fixed port: Moleculer ignores the bind address with port 0.
		system = await startSystem({ env: { RATE_LIMIT_PER_MINUTE: "3", METRICS_PORT: String(await freePort()) } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should answer 429 as a problem document once a client used up its requests for the minute", async () => {
		const answers = [];
		for (let i = 0; i < 4; i++) answers.push(await system.http().get("/api/health/live"));

		expect(answers.map(r => r.status)).toEqual([200, 200, 200, 429]);
		const limited = answers[3];
		expect(limited.headers["content-type"]).toContain("application/problem+json");
		expect(limited.body).toMatchObject({ status: 429, title: "Too many requests" });
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
