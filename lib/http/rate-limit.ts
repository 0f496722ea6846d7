/**
 * Rate limiting per caller for the gateway: `perMinute` requests per caller key ({@link callerKey})
 * in a fixed one-minute window that starts with the key's first request.
 *
 * - `databaseUrl` set: the counters live in PostgreSQL (rate-limiter-flexible's RateLimiterPostgres,
 *   one row per key), so every api instance on that database shares one budget per caller. When the
 *   server does not answer, each instance counts in its own memory (the insurance limiter) until it
 *   does: requests are still limited, never failed (see rate-limit-store.ts).
 * - no `databaseUrl`: the counters live in this process's memory (one budget per api instance).
 * - `perMinute` 0: every request is allowed.
 *
 * `consume` never rejects: a store failure is the insurance limiter's to answer, and anything else
 * (a bug) lets the request through with a warning rather than answering it with a 500.
 */
import { createHash } from "node:crypto";
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { PostgresCounterStore, type RateLimitLogger } from "./rate-limit-store";

export { callerKey, clientAddress, normaliseIp } from "./caller-key";
export { ERR_RATE_LIMITED, RateLimitExceededError } from "./errors";
export type { RateLimitLogger } from "./rate-limit-store";

/** Where the counters are: shared PostgreSQL, this process's memory, or nowhere (limiting off). */
export type RateLimitStore = "postgres" | "memory" | "off";

/** The answer for one request. */
export interface RateLimitDecision {
	allowed: boolean;
	/** Requests per minute a caller may make; 0 when limiting is off. */
	limit: number;
	/** Requests left in the current window after this one (0 when refused, and when limiting is off). */
	remaining: number;
	/** Seconds until the current window ends and the budget is whole again (0 when limiting is off). */
	resetSeconds: number;
	/** Seconds to wait before trying again: at least 1 when refused, 0 when allowed. */
	retryAfterSeconds: number;
}

export interface CallerRateLimiter {
	readonly store: RateLimitStore;
	/** Requests per minute per caller; 0: off. */
	readonly perMinute: number;
	/**
	 * True while the shared store does not answer and this instance counts in its own memory (the
	 * insurance limiter); always false for the memory and off stores.
	 */
	readonly degraded: boolean;
	/** Counts one request of `key` and says whether it may go on. Never rejects. */
	consume(key: string): Promise<RateLimitDecision>;
	/** Ends the store's connections; `consume` keeps answering (from memory) afterwards. */
	close(): Promise<void>;
}

export interface CallerRateLimitOptions {
	/** Requests per minute per caller; 0 turns limiting off. */
	perMinute: number;
	/** PostgreSQL that holds the counters shared by every api instance; unset: this process's memory. */
	databaseUrl?: string;
	logger: RateLimitLogger;
	/** The counters' table; created when missing. Default `api_rate_limits`. */
	tableName?: string;
	/** After a store failure, how long requests are counted in memory before the store is tried again. Default 5 s. */
	storeRetryMs?: number;
	/** Longest wait for a connection or a query of the store before the request is counted in memory. Default 2 s. */
	storeTimeoutMs?: number;
	/** Connections of the limiter's own pool. Default 5. */
	poolSize?: number;
}

export const DEFAULT_RATE_LIMIT_TABLE = "api_rate_limits";
const WINDOW_SECONDS = 60;
/**
 * Keys counted as they are: printable ASCII that fits the key column (varchar(255)). Any other key (a
 * long token subject, one with characters PostgreSQL text refuses such as NUL) is counted under its
 * SHA-256, so that no caller's key can make the store's query fail.
 */
const PLAIN_KEY = /^[\x20-\x7e]{1,200}$/;
/** Expired rows are deleted this often (as rate-limiter-flexible's own cleanup does). */
const CLEANUP_EVERY_MS = 300_000;

/** The limiter for `options`; with a database, resolves once the store answered or was found down. */
export async function createCallerRateLimiter(options: CallerRateLimitOptions): Promise<CallerRateLimiter> {
	const { perMinute, databaseUrl, logger } = options;
	if (!Number.isInteger(perMinute) || perMinute < 0) {
		throw new RangeError(`perMinute must be a whole number of requests, 0 or more (got ${perMinute}).`);
	}
	if (perMinute === 0) return new UnlimitedLimiter();
	if (!databaseUrl) {
		return new FlexibleLimiter("memory", perMinute, new RateLimiterMemory({ points: perMinute, duration: WINDOW_SECONDS, keyPrefix: "" }), logger);
	}

	const tableName = options.tableName ?? DEFAULT_RATE_LIMIT_TABLE;
	const store = new PostgresCounterStore({
		url: databaseUrl,
		tableName,
		logger,
		retryMs: options.storeRetryMs ?? 5_000,
		timeoutMs: options.storeTimeoutMs ?? 2_000,
		poolSize: options.poolSize ?? 5,
		cleanupEveryMs: CLEANUP_EVERY_MS
	});
	await store.start();
	const limiter = new RateLimiterPostgres({
		storeClient: store,
		storeType: "pool",
		tableName,
		// The store creates the table (start, and again on a probe after it went missing). Left to
		// rate-limiter-flexible, the constructor would create it without waiting, never try again
		// after a failure, and throw the failure as an unhandled rejection, which ends the process.
		tableCreated: true,
		// Its cleanup timer cannot be stopped from outside; the store runs its own.
		clearExpiredByTimeout: false,
		points: perMinute,
		duration: WINDOW_SECONDS,
		keyPrefix: "",
		// A caller over its budget is refused from this process's memory for the rest of its window,
		// without writing to PostgreSQL for every request it keeps sending.
		inMemoryBlockOnConsumed: perMinute + 1,
		insuranceLimiter: new RateLimiterMemory({ points: perMinute, duration: WINDOW_SECONDS, keyPrefix: "" })
	});
	return new FlexibleLimiter("postgres", perMinute, limiter, logger, store);
}

/** A key that fits the store's key column, the same on every instance. */
function storeKey(key: string): string {
	return PLAIN_KEY.test(key) ? key : `sha256:${createHash("sha256").update(key).digest("hex")}`;
}

function secondsOf(ms: number): number {
	return ms > 0 ? Math.ceil(ms / 1000) : 0;
}

class FlexibleLimiter implements CallerRateLimiter {
	private lastUnexpectedWarning = 0;

	constructor(
		readonly store: "postgres" | "memory",
		readonly perMinute: number,
		private readonly limiter: RateLimiterAbstract,
		private readonly logger: RateLimitLogger,
		private readonly counterStore?: PostgresCounterStore
	) {}

	get degraded(): boolean {
		return this.counterStore?.degraded ?? false;
	}

	async consume(key: string): Promise<RateLimitDecision> {
		try {
			const res = await this.limiter.consume(storeKey(key));
			return {
				allowed: true,
				limit: this.perMinute,
				remaining: res.remainingPoints,
				resetSeconds: secondsOf(res.msBeforeNext),
				retryAfterSeconds: 0
			};
		} catch (rejection) {
			// rate-limiter-flexible rejects with a RateLimiterRes for "over the limit"; an Error means
			// the store failed and the insurance limiter did not answer either.
			if (rejection instanceof RateLimiterRes) {
				const seconds = Math.max(1, secondsOf(rejection.msBeforeNext));
				return { allowed: false, limit: this.perMinute, remaining: 0, resetSeconds: seconds, retryAfterSeconds: seconds };
			}
			this.warnUnexpected(rejection);
			return { allowed: true, limit: this.perMinute, remaining: 0, resetSeconds: 0, retryAfterSeconds: 0 };
		}
	}

	async close(): Promise<void> {
		await this.counterStore?.close();
	}

	/** At most one warning a minute: a failure here would otherwise repeat on every request. */
	private warnUnexpected(err: unknown): void {
		const now = Date.now();
		if (now - this.lastUnexpectedWarning < WINDOW_SECONDS * 1000) return;
		this.lastUnexpectedWarning = now;
		this.logger.warn(`Rate limiting failed unexpectedly (${err instanceof Error ? err.message : String(err)}); letting requests through until it works.`);
	}
}

class UnlimitedLimiter implements CallerRateLimiter {
	readonly store = "off" as const;
	readonly perMinute = 0;
	readonly degraded = false;

	async consume(): Promise<RateLimitDecision> {
		return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0, retryAfterSeconds: 0 };
	}

	async close(): Promise<void> {}
}
