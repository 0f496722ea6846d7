/**
 * The headers every answer of the gateway carries, before any routing: the security headers (one
 * set for the API, a looser one for the docs page), CORS for an allowed browser origin, and the
 * `OPTIONS` answer, which never runs an action.
 */
import type { ServerResponse } from "node:http";
import helmet from "helmet";
import type { GatewayRequest } from "./gateway-http";
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, isAllowedOrigin } from "./routes";

/** How long a browser may cache a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** Security headers of every API answer: JSON only, never framed, nothing loaded. */
export const apiHelmet = helmet({
	contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
	frameguard: { action: "deny" }
});

/** The docs page runs its own scripts and styles, and nothing from elsewhere. */
export const docsHelmet = helmet({ contentSecurityPolicy: false, frameguard: { action: "deny" } });

/**
 * Sets the CORS headers of an answer to an allowed origin (and `Vary: Origin` whenever CORS is
 * open); returns that origin, or undefined when the request has none that is allowed.
 */
export function setCorsHeaders(req: GatewayRequest, res: ServerResponse, corsOrigins: string[]): string | undefined {
	const origin = req.headers.origin;
	const corsOrigin = isAllowedOrigin(origin, corsOrigins) ? origin : undefined;
	if (corsOrigin) {
		res.setHeader("Access-Control-Allow-Origin", corsOrigins.includes("*") ? "*" : corsOrigin);
		res.setHeader("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS.join(", "));
	}
	if (corsOrigins.length > 0) res.setHeader("Vary", "Origin");
	return corsOrigin;
}

/** `OPTIONS`: the methods of the path, and for an allowed origin the CORS preflight answer. Never an action. */
export function answerOptions(req: GatewayRequest, res: ServerResponse, allow: string[], corsOrigin: string | undefined): void {
	res.setHeader("Allow", allow.join(", "));
	const requested = req.headers["access-control-request-method"];
	if (corsOrigin && typeof requested === "string" && allow.includes(requested.toUpperCase())) {
		res.setHeader("Access-Control-Allow-Methods", allow.join(", "));
		res.setHeader("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS.join(", "));
		res.setHeader("Access-Control-Max-Age", String(PREFLIGHT_MAX_AGE_SECONDS));
	}
	res.writeHead(204);
	res.end();
}
