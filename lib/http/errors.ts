import { Errors } from "moleculer";

export const ERR_RATE_LIMITED = "RATE_LIMITED";

/**
 * A caller made more requests in the current minute than it may (429). `data.retryAfter` is the
 * number of seconds until its budget is back: the gateway sends it as `Retry-After`.
 */
export class RateLimitExceededError extends Errors.MoleculerClientError {
	constructor(perMinute: number, retryAfterSeconds: number) {
		super(
			`Too many requests: ${perMinute} per minute for this caller; retry after ${retryAfterSeconds} ${retryAfterSeconds === 1 ? "second" : "seconds"}.`,
			429,
			ERR_RATE_LIMITED,
			{ retryAfter: retryAfterSeconds }
		);
	}
}
