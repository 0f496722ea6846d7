/**
 * The orders saga's clockwork: the expiry sweeper and the pruners of the inbox and of expired
 * Idempotency-Keys, on the saga's clock. Started once the database is connected, and stopped
 * (awaiting the sweep under way) before it closes.
 */
import type { CancelTimer } from "../../lib/clock";
import { expirySweepIntervalMs } from "./orders.domain";
import type { OrderSaga } from "./order-saga";
import type { OrderSagaDeps } from "./order-saga.types";

/** How often old event ids are pruned from the inbox. */
const INBOX_PRUNE_INTERVAL_MS = 60_000;
/** How often expired Idempotency-Keys are taken off their orders. */
const IDEMPOTENCY_PRUNE_INTERVAL_MS = 60_000;

/** The saga's running timers. */
export interface SagaTimers {
	/** Stops the timers and waits for the sweep under way; call it before the database closes. */
	stop(): Promise<void>;
}

/** Starts the expiry sweeper and the pruners of `saga`; each tick does nothing while the database is not ready. */
export function startSagaTimers(saga: OrderSaga, deps: Pick<OrderSagaDeps, "clock" | "ready" | "logger" | "settings">): SagaTimers {
	const { clock, ready, logger } = deps;
	/** The sweep under way, if any: one at a time, and awaited at stop. */
	let sweep: Promise<unknown> | undefined;
	const everyWhileReady = (intervalMs: number, failure: string, task: () => Promise<unknown>): CancelTimer =>
		clock.every(intervalMs, () => {
			if (ready()) task().catch((err: Error) => logger.warn(failure, err));
		});
	const timers = [
		clock.every(expirySweepIntervalMs(deps.settings.orderTimeoutMs), () => {
			if (!ready() || sweep) return;
			sweep = saga
				.expireOverdue()
				.catch((err: Error) => logger.warn("Expiry sweep failed; it runs again shortly.", err))
				.finally(() => (sweep = undefined));
		}),
		everyWhileReady(INBOX_PRUNE_INTERVAL_MS, "Inbox pruning failed; it runs again later.", () => saga.pruneProcessedEvents()),
		everyWhileReady(IDEMPOTENCY_PRUNE_INTERVAL_MS, "Pruning expired Idempotency-Keys failed; it runs again later.", () => saga.pruneIdempotencyKeys())
	];
	return {
		async stop() {
			for (const cancel of timers) cancel();
			await sweep;
		}
	};
}
