import { ServiceBroker } from "moleculer";
import { clockOf, systemClock, useClock } from "../../../lib/clock";
import { ManualClock } from "../../support/manual-clock";

describe("Test the clock of a broker", () => {
	it("should be the system's unless a test set another", () => {
		const broker = new ServiceBroker({ logger: false });
		expect(clockOf(broker)).toBe(systemClock);
		const clock = new ManualClock(0);
		useClock(broker, clock);
		expect(clockOf(broker)).toBe(clock);
		expect(clockOf(new ServiceBroker({ logger: false }))).toBe(systemClock);
	});

	it("should keep the set clock out of the broker's options", () => {
		const broker = new ServiceBroker({ logger: false });
		useClock(broker, new ManualClock(0));
		expect(JSON.stringify(Object.keys(broker.options))).not.toMatch(/clock/i);
	});

	it("should run the system clock's timers and stop them when cancelled", async () => {
		let runs = 0;
		const cancel = systemClock.every(5, () => runs++);
		await new Promise<void>(resolve => {
			const stop = systemClock.after(40, () => {
				stop();
				resolve();
			});
		});
		cancel();
		const seen = runs;
		expect(seen).toBeGreaterThan(0);
		await new Promise(resolve => setTimeout(resolve, 30));
		expect(runs).toBe(seen);
	});
});

describe("Test the manual clock", () => {
	it("should stand still until advanced", () => {
		const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
		expect(clock.now()).toBe(Date.parse("2026-01-01T00:00:00Z"));
		clock.advance(1500);
		expect(clock.now()).toBe(Date.parse("2026-01-01T00:00:01.500Z"));
	});

	it("should run each timer at its own moment, in time order", () => {
		const clock = new ManualClock(0);
		const seen: string[] = [];
		clock.every(100, () => seen.push(`every@${clock.now()}`));
		clock.after(150, () => seen.push(`after@${clock.now()}`));
		clock.advance(99);
		expect(seen).toEqual([]);
		clock.advance(201);
		expect(seen).toEqual(["every@100", "after@150", "every@200", "every@300"]);
		expect(clock.now()).toBe(300);
	});

	it("should not run a cancelled timer, and run a one-off timer once", () => {
		const clock = new ManualClock(0);
		let repeated = 0;
		let once = 0;
		const cancel = clock.every(10, () => repeated++);
		clock.after(5, () => once++);
		clock.advance(25);
		cancel();
		clock.advance(100);
		expect(repeated).toBe(2);
		expect(once).toBe(1);
		expect(clock.pendingTimers).toBe(0);
	});

	it("should run a timer a task sets when it falls due within the same advance", () => {
		const clock = new ManualClock(0);
		const seen: number[] = [];
		clock.after(10, () => clock.after(10, () => seen.push(clock.now())));
		clock.advance(30);
		expect(seen).toEqual([20]);
	});
});

describe("Test the manual clock keeping the wall clock's pace", () => {
	it("should run on with the wall clock, run its timers, and still jump when advanced", async () => {
		const clock = new ManualClock(0);
		let ticks = 0;
		clock.every(5, () => ticks++);
		const wallStart = Date.now();
		const stop = clock.keepPace(2);
		try {
			await new Promise(resolve => setTimeout(resolve, 40));
			const paced = clock.now();
			// Never ahead of the wall clock, and never stuck: a saga timed on it lasts more than zero.
			expect(paced).toBeGreaterThan(0);
			expect(paced).toBeLessThanOrEqual(Date.now() - wallStart);
			await new Promise(resolve => setTimeout(resolve, 20));
			expect(ticks).toBeGreaterThan(0);
			const before = clock.now();
			clock.advance(60_000);
			expect(clock.now()).toBeGreaterThanOrEqual(before + 60_000);
		} finally {
			stop();
		}
		const stopped = clock.now();
		await new Promise(resolve => setTimeout(resolve, 20));
		expect(clock.now()).toBe(stopped);
	});
});
