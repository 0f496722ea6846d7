/**
 * Time as the product reads it: the saga's timestamps, the expiry sweeper, the pruners and the
 * outbox gauges ask a {@link Clock} instead of `Date.now()` and `setInterval`, so a test can move
 * time on instead of waiting for it (test/support/manual-clock.ts).
 *
 * A broker's services share one clock: the system's, unless a test set another with
 * {@link useClock} before creating them.
 */

/** Stops a timer; calling it twice is harmless. */
export type CancelTimer = () => void;

export interface Clock {
	/** Milliseconds since the epoch. */
	now(): number;
	/** Runs `task` every `intervalMs` until cancelled. The timer never keeps the process alive. */
	every(intervalMs: number, task: () => void): CancelTimer;
	/** Runs `task` once after `delayMs`, unless cancelled first. The timer never keeps the process alive. */
	after(delayMs: number, task: () => void): CancelTimer;
}

/** The system's clock: `Date.now()` and Node's timers. */
export const systemClock: Clock = {
	now: () => Date.now(),
	every(intervalMs, task) {
		const timer = setInterval(task, intervalMs);
		timer.unref();
		return () => clearInterval(timer);
	},
	after(delayMs, task) {
		const timer = setTimeout(task, delayMs);
		timer.unref();
		return () => clearTimeout(timer);
	}
};

/** The clock set for a broker: a WeakMap, so that a clock is never in a broker's (broadcast) options. */
const clocks = new WeakMap<object, Clock>();

/** Sets the clock of `broker`'s services; call it before the services are created. */
export function useClock(broker: object, clock: Clock): void {
	clocks.set(broker, clock);
}

/** The clock of `broker`'s services: the one set with {@link useClock}, else the system's. */
export function clockOf(broker: object): Clock {
	return clocks.get(broker) ?? systemClock;
}
