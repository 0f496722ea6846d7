/**
 * Every node's health on its metrics port (`/health/live`, `/health/ready`, with every check), a
 * node without the api included, and the api's public readiness: `{ status }` only, checked at most
 * once a second however many probes arrive.
 */
import { startSystem, type RunningSystem } from "../support/system";
import type { ReadinessReport } from "../../lib/health/readiness";
import { LIVE_MAX_STOPPING_MS } from "../../lib/health/liveness";
import { ManualClock } from "../support/manual-clock";
import { waitFor } from "../support/services";

/** The value of `moleculer_request_total` for one action in a Prometheus text. */
function requestsOf(text: string, action: string): number {
	const line = text.split("\n").find(l => l.startsWith("moleculer_request_total{") && l.includes(`action="${action}"`));
	return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("Health on the metrics port of a node without the api (orders only)", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		system = await startSystem({ services: ["orders"], env: { METRICS_PORT: "0" } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should answer liveness", async () => {
		const res = await fetch(`${system.metricsBaseUrl}/health/live`);
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ status: "ok" });
	});

	it("should answer readiness with the checks of the services it runs, and its outbox's lag", async () => {
		const res = await fetch(`${system.metricsBaseUrl}/health/ready`);
		const body = (await res.json()) as ReadinessReport;
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("application/json");
		expect(body).toEqual({
			status: "ok",
			checks: { ordersDatabase: "ok", ordersOutbox: "ok" },
			outbox: { orders: { pending: expect.any(Number), oldestPendingAgeSeconds: expect.any(Number) } }
		});
	});

	it("should still serve /metrics, and 404 to any other path", async () => {
		expect((await fetch(`${system.metricsBaseUrl}/metrics`)).status).toBe(200);
		expect((await fetch(`${system.metricsBaseUrl}/health`)).status).toBe(404);
	});

	it("should listen on the loopback address even with METRICS_PORT=0", () => {
		expect(new URL(system.metricsBaseUrl!).port).not.toBe("0");
		const reporter = (system.broker.metrics as unknown as { reporter: Array<{ server: import("node:http").Server }> }).reporter[0];
		expect((reporter.server.address() as import("node:net").AddressInfo).address).toBe("127.0.0.1");
	});
});

describe("Public readiness of the api (api and orders on one node)", () => {
	let system: RunningSystem;
	const ordersHealthChecks = async () => requestsOf(await (await fetch(`${system.metricsBaseUrl}/metrics`)).text(), "orders.health");

	beforeAll(async () => {
		system = await startSystem({ services: ["api", "orders"], env: { METRICS_PORT: "0" } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should answer { status: 'ok' } and nothing else", async () => {
		const res = await system.anonymous().get("/api/health/ready");
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ status: "ok" });
	});

	it("should check the node once for a flood of probes within a second, shared with the metrics port", async () => {
		const before = await ordersHealthChecks();
		const answers = await Promise.all([
			...Array.from({ length: 40 }, () => system.anonymous().get("/api/health/ready")),
			...Array.from({ length: 10 }, () => fetch(`${system.metricsBaseUrl}/health/ready`))
		]);
		expect(answers.every(res => res.status === 200)).toBe(true);
		// One check, or two when the flood straddled the end of a cached answer's second.
		expect((await ordersHealthChecks()) - before).toBeLessThanOrEqual(2);
	});
});

describe("Liveness of a node whose stop hangs (processor only)", () => {
	let system: RunningSystem;
	let releaseStop: () => void = () => undefined;
	const clock = new ManualClock();
	const live = async () => {
		const res = await fetch(`${system.metricsBaseUrl}/health/live`);
		return { status: res.status, body: (await res.json()) as { status: string; phase?: string; detail?: string } };
	};

	beforeAll(async () => {
		system = await startSystem({ services: ["processor"], env: { METRICS_PORT: "0" }, clock });
		// A service whose `stopped` waits until the test lets it go: the broker's stop hangs on it.
		const hold = new Promise<void>(resolve => (releaseStop = resolve));
		system.broker.createService({ name: "stuckOnStop", stopped: () => hold });
		await system.broker.waitForServices("stuckOnStop");
	});
	afterAll(() => releaseStop());

	it("should stay live through a stop up to LIVE_MAX_STOPPING_MS, then answer 503 saying the stop hangs", async () => {
		expect(await live()).toEqual({ status: 200, body: { status: "ok" } });
		const stopped = system.stop();
		try {
			// The first probe that sees the stop starts its count: still live.
			await waitFor("the broker to be stopping", () => system.broker.stopping);
			expect((await live()).status).toBe(200);
			clock.advance(LIVE_MAX_STOPPING_MS);
			expect((await live()).status).toBe(200);
			clock.advance(1000);
			expect(await live()).toEqual({
				status: 503,
				body: { status: "stuck", phase: "stopping", detail: expect.stringMatching(/^The broker has been stopping for 61 s, more than 60 s/) }
			});
		} finally {
			releaseStop();
			await stopped;
		}
	});
});
