import type { Logger } from "moleculer";
import { startSagaTimers } from "../../../../services/orders/order-timers";
import type { OrderSaga } from "../../../../services/orders/order-saga";
import { ManualClock } from "../../../support/manual-clock";

const ORDER_TIMEOUT_MS = 1000;
/** expirySweepIntervalMs(1000): a quarter of the timeout. */
const SWEEP_MS = 250;

/** A saga whose sweep ends when the test says, and whose pruners count their runs. */
function fakeSaga() {
	const calls = { sweeps: 0, inboxPrunes: 0, keyPrunes: 0 };
	let endSweep: () => void = () => undefined;
	const saga = {
		expireOverdue: () => {
			calls.sweeps++;
			return new Promise<number>(resolve => (endSweep = () => resolve(0)));
		},
		pruneProcessedEvents: async () => calls.inboxPrunes++,
		pruneIdempotencyKeys: async () => calls.keyPrunes++
	} as unknown as OrderSaga;
	return { saga, calls, endSweep: () => endSweep() };
}

const quietLogger = { warn: jest.fn() } as unknown as Logger;
const settings = { orderTimeoutMs: ORDER_TIMEOUT_MS, idempotencyKeyTtlMs: 60_000, inboxRetentionMs: 60_000 };

describe("Test 'startSagaTimers'", () => {
	it("should sweep on the clock, one sweep at a time, and only while the database is ready", async () => {
		const clock = new ManualClock(0);
		const { saga, calls, endSweep } = fakeSaga();
		let ready = false;
		const timers = startSagaTimers(saga, { clock, ready: () => ready, logger: quietLogger, settings });

		clock.advance(SWEEP_MS * 4);
		expect(calls.sweeps).toBe(0);

		ready = true;
		clock.advance(SWEEP_MS * 4);
		expect(calls.sweeps).toBe(1);

		endSweep();
		await new Promise(resolve => setImmediate(resolve));
		clock.advance(SWEEP_MS);
		expect(calls.sweeps).toBe(2);
		endSweep();
		await timers.stop();
	});

	it("should wait at stop for the sweep under way, and run nothing after", async () => {
		const clock = new ManualClock(0);
		const { saga, calls, endSweep } = fakeSaga();
		const timers = startSagaTimers(saga, { clock, ready: () => true, logger: quietLogger, settings });
		clock.advance(SWEEP_MS);

		let stopped = false;
		const stopping = timers.stop().then(() => (stopped = true));
		await new Promise(resolve => setImmediate(resolve));
		expect(stopped).toBe(false);
		endSweep();
		await stopping;
		expect(stopped).toBe(true);

		clock.advance(120_000);
		expect(calls).toEqual({ sweeps: 1, inboxPrunes: 0, keyPrunes: 0 });
		expect(clock.pendingTimers).toBe(0);
	});

	it("should prune the inbox and the expired Idempotency-Keys once a minute of the clock", async () => {
		const clock = new ManualClock(0);
		const { saga, calls, endSweep } = fakeSaga();
		const timers = startSagaTimers(saga, { clock, ready: () => true, logger: quietLogger, settings });
		clock.advance(59_999);
		expect(calls).toMatchObject({ inboxPrunes: 0, keyPrunes: 0 });
		clock.advance(1);
		expect(calls).toMatchObject({ inboxPrunes: 1, keyPrunes: 1 });
		endSweep();
		await timers.stop();
	});
});
