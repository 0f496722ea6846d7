import type { IncomingMessage, ServerResponse } from "node:http";
import { ReadinessProbe, describeFailures, outboxLagState, type ReadinessReport } from "../../../../lib/health/readiness";
import { answerHealthRequest } from "../../../../lib/health/health-endpoints";
import type { LivenessReport } from "../../../../lib/health/liveness";

const ready: ReadinessReport = { status: "ok", checks: { ordersDatabase: "ok" } };
const unready: ReadinessReport = { status: "unavailable", checks: { ordersDatabase: "unavailable (timeout)", broker: "ok" } };

describe("Test 'outboxLagState'", () => {
	it("should be ok up to the bound and say how far past it the oldest event is beyond", () => {
		expect(outboxLagState({ pending: 2, oldestPendingAgeSeconds: 300 }, 300)).toBe("ok");
		expect(outboxLagState({ pending: 2, oldestPendingAgeSeconds: 301.4 }, 300)).toBe(
			"lagging (2 event(s) unpublished, the oldest for 301 s; READY_MAX_OUTBOX_LAG_S is 300)"
		);
	});
});

describe("Test 'describeFailures'", () => {
	it("should list the failing checks only", () => {
		expect(describeFailures(unready.checks)).toBe("ordersDatabase unavailable (timeout)");
	});
});

describe("Test 'ReadinessProbe'", () => {
	let now = 0;
	const clock = () => now;

	beforeEach(() => {
		now = 10_000;
	});

	it("should check once for a flood of probes within a second, and again after it", async () => {
		const check = jest.fn(async () => ready);
		const probe = new ReadinessProbe(check, undefined, clock);

		await Promise.all(Array.from({ length: 100 }, () => probe.get()));
		now += 999;
		await probe.get();
		expect(check).toHaveBeenCalledTimes(1);

		now += 1;
		await probe.get();
		expect(check).toHaveBeenCalledTimes(2);
	});

	it("should share a check still running with every caller", async () => {
		let finish: (report: ReadinessReport) => void = () => undefined;
		const check = jest.fn(() => new Promise<ReadinessReport>(resolve => (finish = resolve)));
		const probe = new ReadinessProbe(check, undefined, clock);

		const answers = [probe.get(), probe.get(), probe.get()];
		finish(unready);
		expect(await Promise.all(answers)).toEqual([unready, unready, unready]);
		expect(check).toHaveBeenCalledTimes(1);
	});

	it("should not keep a check that threw: the next caller checks again", async () => {
		const check = jest.fn().mockRejectedValueOnce(new Error("bug")).mockResolvedValue(ready);
		const probe = new ReadinessProbe(check, undefined, clock);

		await expect(probe.get()).rejects.toThrow("bug");
		await expect(probe.get()).resolves.toEqual(ready);
	});

	it("should log once when the node becomes unready, with the checks, and once when it is ready again", async () => {
		const logger = { warn: jest.fn(), info: jest.fn() };
		const answers = [ready, unready, unready, ready];
		const probe = new ReadinessProbe(async () => answers.shift()!, logger as never, clock);

		for (let i = 0; i < 4; i++, now += 1000) await probe.get();

		expect(logger.warn).toHaveBeenCalledTimes(1);
		expect(logger.warn).toHaveBeenCalledWith("This node is not ready: ordersDatabase unavailable (timeout).", expect.objectContaining({ checks: unready.checks }));
		expect(logger.info).toHaveBeenCalledTimes(1);
		expect(logger.info).toHaveBeenCalledWith("This node is ready again.", expect.anything());
	});
});

/** A response that records what was written to it; `ended` resolves once it is written. */
function recordingResponse() {
	let done: () => void = () => undefined;
	const ended = new Promise<void>(resolve => (done = resolve));
	const res = {
		status: 0,
		headers: {} as Record<string, string>,
		body: undefined as string | undefined,
		ended,
		setHeader(name: string, value: string) {
			res.headers[name.toLowerCase()] = value;
		},
		writeHead(status: number, headers: Record<string, string> = {}) {
			res.status = status;
			for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
		},
		end(body?: string) {
			res.body = body;
			done();
		}
	};
	return res;
}

const call = async (method: string, url: string, report: ReadinessReport = ready, liveness?: () => LivenessReport) => {
	const res = recordingResponse();
	const handled = answerHealthRequest({ method, url } as IncomingMessage, res as unknown as ServerResponse, async () => report, liveness);
	if (handled) await res.ended;
	return { handled, status: res.status, headers: res.headers, body: res.body === undefined ? undefined : JSON.parse(res.body) };
};

describe("Test 'answerHealthRequest'", () => {
	it("should leave every other path to the metrics server", async () => {
		expect((await call("GET", "/metrics")).handled).toBe(false);
		expect((await call("GET", "/health")).handled).toBe(false);
	});

	it("should answer liveness, with or without a query string", async () => {
		expect(await call("GET", "/health/live?probe=1")).toMatchObject({ handled: true, status: 200, body: { status: "ok" } });
	});

	it("should answer liveness 200 whatever readiness says, and 503 saying why when the node is stuck", async () => {
		const starting = (): LivenessReport => ({ status: "ok", phase: "starting" });
		expect(await call("GET", "/health/live", unready, starting)).toMatchObject({ status: 200, body: { status: "ok" } });
		const stuck: LivenessReport = { status: "stuck", phase: "stopping", detail: "its stop hangs" };
		expect(await call("GET", "/health/live", ready, () => stuck)).toMatchObject({ status: 503, body: stuck });
	});

	it("should answer readiness with every check and the outboxes' lag", async () => {
		const report: ReadinessReport = { ...ready, outbox: { orders: { pending: 0, oldestPendingAgeSeconds: 0 } } };
		expect(await call("GET", "/health/ready", report)).toMatchObject({ status: 200, body: report });
	});

	it("should answer 503 naming the failing checks when the node is not ready", async () => {
		expect(await call("GET", "/health/ready", unready)).toMatchObject({
			status: 503,
			body: { status: "unavailable", checks: unready.checks, detail: "This node is not ready: ordersDatabase unavailable (timeout)." }
		});
	});

	it("should answer HEAD without a body, and 405 with Allow to another method", async () => {
		expect(await call("HEAD", "/health/ready")).toMatchObject({ status: 200, body: undefined });
		expect(await call("POST", "/health/live")).toMatchObject({ status: 405, headers: { allow: "GET, HEAD" } });
	});
});
