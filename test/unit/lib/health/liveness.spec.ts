import { LIVE_MAX_STOPPING_MS, LivenessProbe, brokerPhase, type LivenessPhase } from "../../../../lib/health/liveness";

describe("Test 'brokerPhase'", () => {
	it("should read starting, started and stopping from the broker's flags", () => {
		expect(brokerPhase({ started: false, stopping: false })).toBe("starting");
		expect(brokerPhase({ started: true, stopping: false })).toBe("started");
		expect(brokerPhase({ started: false, stopping: true })).toBe("stopping");
	});
});

describe("Test 'LivenessProbe'", () => {
	let now = 0;
	let phase: LivenessPhase = "starting";
	const probe = () => new LivenessProbe(() => phase, () => now);

	beforeEach(() => {
		now = 1_000_000;
		phase = "starting";
	});

	it("should be live while starting and started, however long a start takes (the startup probe's to judge)", () => {
		const liveness = probe();
		expect(liveness.get()).toEqual({ status: "ok", phase: "starting" });
		now += 10 * LIVE_MAX_STOPPING_MS;
		expect(liveness.get()).toEqual({ status: "ok", phase: "starting" });
		phase = "started";
		expect(liveness.get()).toEqual({ status: "ok", phase: "started" });
	});

	it("should be live while a stop takes up to the bound, and stuck past it, saying how long", () => {
		const liveness = probe();
		phase = "stopping";
		expect(liveness.get().status).toBe("ok");
		now += LIVE_MAX_STOPPING_MS;
		expect(liveness.get().status).toBe("ok");
		now += 1000;
		expect(liveness.get()).toEqual({
			status: "stuck",
			phase: "stopping",
			detail: "The broker has been stopping for 61 s, more than 60 s: its stop hangs."
		});
	});

	it("should count a stop from the first probe that saw it, and start again after the broker left it", () => {
		const liveness = probe();
		phase = "stopping";
		liveness.get();
		phase = "started";
		now += 2 * LIVE_MAX_STOPPING_MS;
		expect(liveness.get().status).toBe("ok");
		phase = "stopping";
		expect(liveness.get().status).toBe("ok");
	});
});
