import { Errors } from "moleculer";

/**
 * The one rule for an event whose handler failed: run it again later, or give up on it. The
 * RabbitMQ transporter (retry queues, dead-letter queue) and the outbox without a transporter
 * (`claimed_until`, `failed_at`) both ask `decideDelivery` and only carry out its answer.
 */

/** How often, and how far apart, a failed event is run again. */
export interface DeliveryPolicy {
	/** Runs of one event, the first included, before it is dead-lettered. */
	maxAttempts: number;
	/** Delay before the first retry; doubles with each attempt. */
	baseDelayMs: number;
	/** Upper bound of one retry delay. */
	maxDelayMs: number;
}

/** Why an event is given up on. */
export const DeadLetterReason = {
	/** The handler refused it (`MoleculerClientError`): running it again gives the same answer. */
	Permanent: "permanent",
	/** It failed on its last allowed attempt. */
	AttemptsExhausted: "attempts-exhausted"
} as const;
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason];

/** What to do with an event whose handler just failed. */
export type DeliveryDecision = { action: "retry"; delayMs: number } | { action: "dead-letter"; reason: DeadLetterReason };

/**
 * True when an error must not be retried: bad input or a broken rule (a `MoleculerClientError`, which
 * includes validation errors), as opposed to a passing fault such as a lost database connection.
 */
export function isPermanentFailure(err: unknown): boolean {
	return err instanceof Errors.MoleculerClientError;
}

/**
 * Delay before retry number `attempt` (1-based): exponential, capped, with "equal jitter" — half the
 * delay is fixed, half random — so retries of many messages spread out but never come early.
 */
export function retryDelayMs(
	attempt: number,
	baseMs: number,
	maxMs: number,
	random: () => number = Math.random
): number {
	const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
	return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/**
 * Decides the fate of an event whose handler failed on run number `attempt` (1-based, counted
 * since the event was first sent or last replayed): a permanent failure is dead-lettered at once,
 * the last allowed attempt is dead-lettered, anything else is retried after a backoff delay.
 */
export function decideDelivery(
	error: unknown,
	attempt: number,
	policy: DeliveryPolicy,
	random: () => number = Math.random
): DeliveryDecision {
	if (isPermanentFailure(error)) return { action: "dead-letter", reason: DeadLetterReason.Permanent };
	if (attempt >= policy.maxAttempts) return { action: "dead-letter", reason: DeadLetterReason.AttemptsExhausted };
	return { action: "retry", delayMs: retryDelayMs(attempt, policy.baseDelayMs, policy.maxDelayMs, random) };
}
