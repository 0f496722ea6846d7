/**
 * The gateway's checks of a raw request and its problem writer, apart from the service schema (as
 * moleculer-web keeps `alias.js` apart from its gateway): the correlation id, the query's parameters,
 * a body's presence and depth, and the RFC 9457 answer of any error.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, Logger } from "moleculer";
import { HEADER_TOKEN_PATTERN } from "../../lib/contracts/headers";
import { PROBLEM_CONTENT_TYPE, toProblem } from "./problem";

/** A request as moleculer-web hands it on. */
export type GatewayRequest = IncomingMessage & {
	$ctx?: Context<unknown, { correlationId?: string }>;
	correlationId?: string;
	originalUrl?: string;
};

/** Deepest JSON a request body may be; the deepest request of the API needs 3 levels. */
export const MAX_BODY_DEPTH = 32;

/** What the gateway accepts in `X-Correlation-Id` and `Idempotency-Key` (the OpenAPI document says the same). */
export const HEADER_TOKEN = new RegExp(HEADER_TOKEN_PATTERN);

/** True when a JSON value nests deeper than `max` arrays or objects (checked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
	const stack: Array<[unknown, number]> = [[value, 0]];
	while (stack.length > 0) {
		const [node, depth] = stack.pop()!;
		if (node === null || typeof node !== "object") continue;
		if (depth + 1 > max) return true;
		for (const child of Object.values(node as object)) stack.push([child, depth + 1]);
	}
	return false;
}

/** Reads the caller's correlation id, or makes one; it follows the saga through both services. */
export function correlationIdOf(req: GatewayRequest): string {
	if (req.correlationId) return req.correlationId;
	const given = req.headers["x-correlation-id"];
	const value = typeof given === "string" && HEADER_TOKEN.test(given) ? given : randomUUID();
	req.correlationId = value;
	return value;
}

/** Why a query parameter is refused. */
export type QueryRefusal = "nested" | "repeated" | "unknown";

/**
 * What the gateway does with a request's query string, given the names its operation documents.
 * A parameter nested (`customerId[$ne]`, `__proto__[x]`: the query parser would make an object of
 * it, or drop it) or given twice is refused. One the operation does not list is refused too, unless
 * `ignoreUnknown` (a GET): the request then goes on without it, so that a cache-buster
 * (`?_=1700000000`) does not break a read, while a typo cannot widen a purge.
 */
export function screenQuery(
	url: string,
	known: ReadonlySet<string>,
	ignoreUnknown: boolean
): { url: string; refused?: undefined } | { refused: { name: string; reason: QueryRefusal } } {
	const at = url.indexOf("?");
	if (at < 0) return { url };
	const kept: string[] = [];
	const seen = new Set<string>();
	for (const piece of url.slice(at + 1).split("&")) {
		if (piece === "") continue;
		// The name as the query parser reads it: percent- and plus-decoded.
		const name = new URLSearchParams(piece).keys().next().value ?? "";
		if (/[[\]]/.test(name)) return { refused: { name, reason: "nested" } };
		if (seen.has(name)) return { refused: { name, reason: "repeated" } };
		seen.add(name);
		if (known.has(name)) kept.push(piece);
		else if (!ignoreUnknown) return { refused: { name, reason: "unknown" } };
	}
	return { url: kept.length > 0 ? `${url.slice(0, at)}?${kept.join("&")}` : url.slice(0, at) };
}

/** True when the request carries a body. */
export function hasBody(req: IncomingMessage): boolean {
	return Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
}

/** Writes an RFC 9457 problem document for any error; an unexpected one is logged, once. */
export function writeProblem(req: GatewayRequest, res: ServerResponse, err: unknown, logger: Logger): void {
	const correlationId = correlationIdOf(req);
	const { problem, unexpected } = toProblem(err, { method: req.method, url: req.originalUrl ?? req.url });
	if (unexpected) logger.error("Request failed unexpectedly.", err, { correlationId, url: req.url });
	if (res.headersSent) return;
	res.setHeader("Content-Type", PROBLEM_CONTENT_TYPE);
	res.setHeader("X-Correlation-Id", correlationId);
	const data = (err as { data?: { allow?: unknown; wwwAuthenticate?: unknown; retryAfter?: unknown } })?.data;
	if (problem.status === 405 && Array.isArray(data?.allow)) res.setHeader("Allow", data.allow.join(", "));
	if ((problem.status === 401 || problem.status === 403) && typeof data?.wwwAuthenticate === "string") {
		res.setHeader("WWW-Authenticate", data.wwwAuthenticate);
	}
	if ((problem.status === 429 || problem.status === 503) && typeof data?.retryAfter === "number") res.setHeader("Retry-After", String(data.retryAfter));
	if ((err as { type?: unknown })?.type === "QUEUE_FULL") res.setHeader("Retry-After", "1");
	res.writeHead(problem.status);
	res.end(JSON.stringify({ ...problem, instance: req.originalUrl ?? req.url, correlationId }));
}
