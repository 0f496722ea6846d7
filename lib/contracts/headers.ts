/**
 * The request headers the gateway reads besides `Authorization` and `Content-Type`, and the rule
 * their values follow (the OpenAPI document shows it).
 */

/**
 * A header value the gateway takes as an id: 1-200 letters, digits, `.`, `_`, `:` or `-`. An
 * `Idempotency-Key` that breaks it is a 400; an `X-Correlation-Id` that breaks it is replaced.
 */
export const HEADER_TOKEN_PATTERN = "^[A-Za-z0-9._:\\-]{1,200}$";

export const HeaderNames = {
	IdempotencyKey: "Idempotency-Key",
	CorrelationId: "X-Correlation-Id",
	IdempotentReplayed: "Idempotent-Replayed",
	RetryAfter: "Retry-After",
	Location: "Location",
	WwwAuthenticate: "WWW-Authenticate",
	RateLimitLimit: "RateLimit-Limit",
	RateLimitRemaining: "RateLimit-Remaining",
	RateLimitReset: "RateLimit-Reset"
} as const;
