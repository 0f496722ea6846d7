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

/** Who may call a route: anyone, any authenticated caller, or an `admin` only. */
export type RouteAccess = "public" | "customer" | "admin";

/** One REST route: its method and path under {@link API_PATH}, the action behind it, who may call it. */
export interface ApiRoute {
	method: "GET" | "POST" | "PUT" | "DELETE";
	path: string;
	action: string;
	access: RouteAccess;
	/** One line for people (the OpenAPI summary). */
	summary: string;
}

/** Every route of the API. The aliases, the 405/OPTIONS answers, the access rules and the OpenAPI document come from it. */
export const API_ROUTES: readonly ApiRoute[] = [
	{ method: "POST", path: "/orders", action: "orders.create", access: "customer", summary: "Place an order" },
	{ method: "GET", path: "/orders", action: "orders.list", access: "customer", summary: "List orders, newest first" },
	{ method: "GET", path: "/orders/:id", action: "orders.get", access: "customer", summary: "Read one order" },
	{ method: "POST", path: "/orders/:id/cancel", action: "orders.cancel", access: "customer", summary: "Cancel an order" },
	{ method: "GET", path: "/orders/:id/history", action: "orders.history", access: "customer", summary: "Read an order's history" },
	{ method: "GET", path: "/health/live", action: "api.live", access: "public", summary: "Liveness" },
	{ method: "GET", path: "/health/ready", action: "api.ready", access: "public", summary: "Readiness: databases and broker" },
	{ method: "GET", path: "/openapi.json", action: "api.openapi", access: "public", summary: "This API's OpenAPI 3.1 document" },
	{ method: "GET", path: "/admin/stock/:sku", action: "processor.getStock", access: "admin", summary: "Read a SKU's stock" },
	{ method: "PUT", path: "/admin/stock/:sku", action: "processor.setStock", access: "admin", summary: "Set a SKU's available stock" },
	{ method: "GET", path: "/admin/dead-letters", action: "deadLetters.list", access: "admin", summary: "List dead letters" },
	{ method: "POST", path: "/admin/dead-letters/replay", action: "deadLetters.replayAll", access: "admin", summary: "Replay every dead letter" },
	{ method: "DELETE", path: "/admin/dead-letters", action: "deadLetters.purgeAll", access: "admin", summary: "Purge every dead letter" },
	{ method: "GET", path: "/admin/dead-letters/:id", action: "deadLetters.get", access: "admin", summary: "Read one dead letter" },
	{ method: "POST", path: "/admin/dead-letters/:id/replay", action: "deadLetters.replay", access: "admin", summary: "Replay one dead letter" },
	{ method: "DELETE", path: "/admin/dead-letters/:id", action: "deadLetters.purge", access: "admin", summary: "Purge one dead letter" }
];

/** "METHOD /path" → action, as moleculer-web's `aliases` take them. */
export function aliasesOf(routes: readonly ApiRoute[]): Record<string, string> {
	return Object.fromEntries(routes.map(r => [`${r.method} ${r.path}`, r.action]));
}

const ACCESS_BY_ACTION = new Map(API_ROUTES.map(r => [r.action, r.access]));

/** Who may call the action behind a route; an action no route names is admin-only. */
export function accessOf(action: string | undefined): RouteAccess {
	return (action && ACCESS_BY_ACTION.get(action)) || "admin";
}

interface RoutePattern {
	method: string;
	pattern: RegExp;
	route: ApiRoute;
}

function compile(routes: readonly ApiRoute[], base: string): RoutePattern[] {
	return routes.map(route => {
		const source = (base + route.path)
			.split("/")
			.map(part => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
			.join("/");
		return { method: route.method, pattern: new RegExp(`^${source}$`), route };
	});
}

const ROUTES = compile(API_ROUTES, API_PATH);

/** The route a request's method and path (as {@link pathOf} gives it) call, if any. */
export function routeOf(method: string, path: string): ApiRoute | undefined {
	return ROUTES.find(candidate => candidate.method === method && candidate.pattern.test(path))?.route;
}

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
export const CORS_EXPOSED_HEADERS = ["Location", "X-Correlation-Id", "Idempotent-Replayed", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"];

/** True when `origin` is one of the configured origins (or they include `*`). */
export function isAllowedOrigin(origin: string | undefined, allowed: readonly string[]): origin is string {
	return typeof origin === "string" && (allowed.includes("*") || allowed.includes(origin));
}
