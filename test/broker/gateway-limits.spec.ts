/**
 * What a node offers around the API itself: the per-client rate limit and the Prometheus endpoint.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import request from "supertest";
import { startSystem, type RunningSystem } from "../support/system";

describe("Gateway limits and metrics", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		system = await startSystem({ env: { RATE_LIMIT_PER_MINUTE: "3", METRICS_PORT: "0" } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should answer 429 as a problem document once a client used up its requests for the minute", async () => {
		const answers = [];
		for (let i = 0; i < 4; i++) answers.push(await request(system.server).get("/api/health/live"));

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
});
