/**
 * The REST routes of the API in one table: moleculer-web's aliases are made from it, and so are the
 * answers moleculer-web does not give by itself — `405` with `Allow` for a known path and another
 * method, `HEAD` for every `GET`, and `OPTIONS` (plain or a browser's preflight) without running
 * any action.
 */

/** Largest request body, in bytes. */
export const BODY_LIMIT_BYTES = 100 * 1024;

/** The API's base path. */
export const API_PATH = "/api";

/** "METHOD /path" → action, as moleculer-web's `aliases` take them. */
export const API_ALIASES = {
	"POST /orders": "orders.create",
	"GET /orders": "orders.list",
	"GET /orders/:id": "orders.get",
	"POST /orders/:id/cancel": "orders.cancel",
	"GET /orders/:id/history": "orders.history",
	"GET /health/live": "api.live",
	"GET /health/ready": "api.ready",
	"GET /admin/stock/:sku": "processor.getStock",
	"PUT /admin/stock/:sku": "processor.setStock",
	"GET /admin/dead-letters": "deadLetters.list",
	"POST /admin/dead-letters/replay": "deadLetters.replayAll",
	"DELETE /admin/dead-letters": "deadLetters.purgeAll",
	"GET /admin/dead-letters/:id": "deadLetters.get",
	"POST /admin/dead-letters/:id/replay": "deadLetters.replay",
	"DELETE /admin/dead-letters/:id": "deadLetters.purge"
} as const;

interface RoutePattern {
	method: string;
	pattern: RegExp;
}

function compile(aliases: Record<string, string>, base: string): RoutePattern[] {
	return Object.keys(aliases).map(key => {
		const [method, path] = key.split(" ");
		const source = (base + path)
			.split("/")
			.map(part => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
			.join("/");
		return { method, pattern: new RegExp(`^${source}$`) };
	});
}

const ROUTES = compile(API_ALIASES, API_PATH);

/** The path of a request URL as moleculer-web matches it: no query string, no trailing slash. */
export function pathOf(url: string | undefined): string {
	let path = (url ?? "/").split("?")[0];
	if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
	return path;
}

/**
 * The methods a path answers, `HEAD` and `OPTIONS` included, in a stable order; `null` for a path
 * that is no route at all (a 404 whatever the method).
 */
export function allowedMethods(path: string): string[] | null {
	const methods = new Set(ROUTES.filter(route => route.pattern.test(path)).map(route => route.method));
	if (methods.size === 0) return null;
	if (methods.has("GET")) methods.add("HEAD");
	methods.add("OPTIONS");
	const order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
	return [...methods].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/** Request headers a browser may send cross-origin; anything else it must not. */
export const CORS_ALLOWED_HEADERS = ["Content-Type", "Authorization", "Idempotency-Key", "X-Correlation-Id"];

/** Response headers a cross-origin script may read. */
export const CORS_EXPOSED_HEADERS = ["Location", "X-Correlation-Id", "Idempotent-Replayed", "Retry-After"];

/** True when `origin` is one of the configured origins (or they include `*`). */
export function isAllowedOrigin(origin: string | undefined, allowed: readonly string[]): origin is string {
	return typeof origin === "string" && (allowed.includes("*") || allowed.includes(origin));
}
