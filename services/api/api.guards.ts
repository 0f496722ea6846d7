/**
 * The gateway's guards of a request on its way to an action, as plain functions the api service's
 * hooks call: what a call must carry (JSON body of bounded depth, a well-formed Idempotency-Key),
 * which query parameters reach it, the caller's rate budget, and the role an admin route needs.
 */
import type { ServerResponse } from "node:http";
import type { Context } from "moleculer";
import type { Caller } from "../../lib/auth/caller";
import { ForbiddenRoleError } from "../../lib/auth/auth.errors";
import { RateLimitExceededError, callerKey, type CallerRateLimiter } from "../../lib/http/rate-limit";
import { BodyTooDeepError, InvalidHeaderError, InvalidQueryParameterError, UnsupportedMediaTypeError } from "./api.errors";
import { HEADER_TOKEN, MAX_BODY_DEPTH, correlationIdOf, hasBody, nestsDeeperThan, screenQuery, type GatewayRequest } from "./gateway-http";
import { queryParameterNames, toOpenApiPath } from "./openapi.params";
import { accessOf, type ApiRoute } from "./routes";

/**
 * Checks a request before its action is called, and hands the action its correlation id (also
 * answered in `X-Correlation-Id`) and Idempotency-Key. On a route that reads bodies, a body must be
 * JSON (any `application/*+json` too).
 */
export function guardCall(ctx: Context<unknown, Record<string, unknown>>, req: GatewayRequest, res: ServerResponse, readsBody: boolean): void {
	const correlationId = correlationIdOf(req);
	ctx.meta.correlationId = correlationId;
	res.setHeader("X-Correlation-Id", correlationId);

	if (readsBody && hasBody(req)) {
		const type = req.headers["content-type"];
		if (!type || !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) {
			throw new UnsupportedMediaTypeError(type);
		}
	}
	// Validation walks the body recursively, and so does the serializer of a remote call.
	if (nestsDeeperThan((req as { body?: unknown }).body, MAX_BODY_DEPTH)) throw new BodyTooDeepError(MAX_BODY_DEPTH);
	const key = req.headers["idempotency-key"];
	if (key !== undefined) {
		if (typeof key !== "string" || !HEADER_TOKEN.test(key)) {
			throw new InvalidHeaderError("Idempotency-Key", "must be 1-200 characters of letters, digits, '.', '_', ':' or '-'");
		}
		ctx.meta.idempotencyKey = key;
	}
}

/**
 * Keeps in `req.url` only the query parameters `route` documents (see `screenQuery`); the error to
 * answer when one is refused, else null.
 */
export function screenRouteQuery(req: GatewayRequest, route: ApiRoute): InvalidQueryParameterError | null {
	if (!req.url) return null;
	const known = queryParameterNames(route);
	const screened = screenQuery(req.url, known, route.method === "GET");
	if (screened.refused) {
		const { name, reason } = screened.refused;
		return new InvalidQueryParameterError(name, reason, `${route.method} ${toOpenApiPath(route.path)}`, known);
	}
	req.url = screened.url;
	return null;
}

/**
 * Counts one request against its caller's budget (the token's `subject`, else the client address
 * as the trusted proxies tell it), and says what is left in the `RateLimit-*` headers; a 429 once
 * the budget is spent.
 */
export async function limitCallerRate(
	limiter: CallerRateLimiter,
	req: GatewayRequest,
	res: ServerResponse,
	subject: string | undefined,
	trustedProxies: string[]
): Promise<void> {
	if (limiter.perMinute === 0) return;
	const decision = await limiter.consume(callerKey(req, subject, trustedProxies));
	res.setHeader("RateLimit-Limit", String(decision.limit));
	res.setHeader("RateLimit-Remaining", String(decision.remaining));
	res.setHeader("RateLimit-Reset", String(decision.resetSeconds));
	if (!decision.allowed) throw new RateLimitExceededError(decision.limit, decision.retryAfterSeconds);
}

/** Admin routes need the role `admin`; every other route is open to any authenticated caller. */
export function authorizeCaller(caller: Caller | null | undefined, action: string | undefined): void {
	if (accessOf(action) === "admin" && caller && caller.role !== "admin") throw new ForbiddenRoleError("admin", caller.role);
}
