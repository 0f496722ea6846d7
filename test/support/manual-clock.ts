/**
 * A clock the test moves: time stands still until {@link ManualClock.advance}, which runs the timers
 * that fall due on the way, in time order, each at its own moment.
 */
import type { CancelTimer, Clock } from "../../lib/clock";

interface Timer {
	id: number;
	dueAt: number;
	/** Set for a repeating timer. */
	intervalMs?: number;
	task: () => void;
}

export class ManualClock implements Clock {
	private current: number;
	private readonly timers = new Map<number, Timer>();
	/** While keeping pace: the wall-clock time `current` was last brought up to. */
	private pacedSince: number | undefined;
	private nextId = 1;

	constructor(start: number | Date = Date.now()) {
		this.current = typeof start === "number" ? start : start.getTime();
	}

	now(): number {
		return this.current + (this.pacedSince === undefined ? 0 : Date.now() - this.pacedSince);
	}

	/**
	 * Keeps the wall clock's pace, for a test that moves the clock past a timeout while other work
	 * still takes real time: `now()` runs on with the wall clock, the timers fall due within
	 * `tickMs`, and {@link advance} still jumps. Returns what stops it.
	 */
	keepPace(tickMs = 20): () => void {
		this.pacedSince = Date.now();
		const timer = setInterval(() => this.catchUp(), tickMs);
		return () => {
			this.catchUp();
			clearInterval(timer);
			this.pacedSince = undefined;
		};
	}

	every(intervalMs: number, task: () => void): CancelTimer {
		return this.schedule({ dueAt: this.current + Math.max(1, intervalMs), intervalMs: Math.max(1, intervalMs), task });
	}

	after(delayMs: number, task: () => void): CancelTimer {
		return this.schedule({ dueAt: this.current + Math.max(0, delayMs), task });
	}

	/** Timers waiting to run (repeating ones included). */
	get pendingTimers(): number {
		return this.timers.size;
	}

	/**
	 * Moves time on by `ms`, running each timer that falls due on the way at its own moment (a
	 * repeating one as often as it falls due). Tasks run synchronously; what they start runs on.
	 */
	advance(ms: number): void {
		this.catchUp();
		this.advanceBy(ms);
	}

	/** Moves `current` on by `ms`, running each timer that falls due on the way at its own moment. */
	private advanceBy(ms: number): void {
		const target = this.current + ms;
		for (;;) {
			const next = this.nextDue(target);
			if (!next) break;
			this.current = next.dueAt;
			if (next.intervalMs === undefined) this.timers.delete(next.id);
			else next.dueAt += next.intervalMs;
			next.task();
		}
		this.current = target;
	}

	/** Takes in the wall-clock time passed since the last look, while keeping pace. */
	private catchUp(): void {
		if (this.pacedSince === undefined) return;
		const now = Date.now();
		const elapsed = now - this.pacedSince;
		this.pacedSince = now;
		if (elapsed > 0) this.advanceBy(elapsed);
	}

	private nextDue(until: number): Timer | undefined {
		let next: Timer | undefined;
		for (const timer of this.timers.values()) {
			if (timer.dueAt <= until && (!next || timer.dueAt < next.dueAt || (timer.dueAt === next.dueAt && timer.id < next.id))) next = timer;
		}
		return next;
	}

	private schedule(timer: Omit<Timer, "id">): CancelTimer {
		const id = this.nextId++;
		this.timers.set(id, { id, ...timer });
		return () => {
			this.timers.delete(id);
		};
	}
}
