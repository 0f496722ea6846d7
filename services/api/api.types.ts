/**
 * The api service's settings, methods and instance state, for its schema (api.service.ts) and the
 * modules it is assembled from.
 */
import type { Server, ServerResponse } from "node:http";
import type { Context, ServiceSettingSchema } from "moleculer";
import type { ApiSettingsSchema } from "moleculer-web";
import type { Caller } from "../../lib/auth/caller";
import type { TokenSettings, TokenVerifier } from "../../lib/auth/tokens";
import type { CallerRateLimiter } from "../../lib/http/rate-limit";
import type { DocsResponse } from "./docs";
import type { GatewayRequest } from "./gateway-http";

/**
 * Settings of the gateway: the moleculer-web settings it uses, and its own. The node passes `port`,
 * `ip`, `corsOrigins`, `jwt`, `trustedProxies` and `callerRateLimit` from the environment
 * (`serviceSettings` in moleculer.config.ts), so the schema's own `settings` are only part of these.
 */
export interface ApiSettings
	extends ServiceSettingSchema,
		Pick<ApiSettingsSchema, "logRequest" | "logResponse" | "onError" | "routes"> {
	/** Port the HTTP server listens on. */
	port: number;
	/** Address the HTTP server binds to. */
	ip: string;
	/** Browser origins allowed to call the API; empty: CORS closed (no `Access-Control-*` header). */
	corsOrigins: string[];
	/** How bearer tokens are checked. */
	jwt: TokenSettings;
	/** Reverse proxies whose X-Forwarded-For names the client. */
	trustedProxies: string[];
	/** Requests per minute and caller (0: off), counted in `databaseUrl`'s PostgreSQL or in memory. */
	callerRateLimit: { perMinute: number; databaseUrl?: string };
	/** Readiness fails when a local outbox's oldest unpublished event is older (READY_MAX_OUTBOX_LAG_S); 0: not checked. */
	readyMaxOutboxLagSeconds: number;
	/** Milliseconds a client has to send a whole request, headers and body; past it, 408 and the connection closes. */
	requestTimeout: number;
	/** Milliseconds a client has to send a request's headers. */
	headersTimeout: number;
}

/** The methods of moleculer-web's gateway that the api service calls or replaces. */
interface GatewayMethods {
	/** Serves one HTTP request: routes it to an action, or answers 404. */
	httpHandler(req: GatewayRequest, res: ServerResponse, next?: unknown): unknown;
	/** Writes an error response, through the route's or the global `onError`. */
	sendError(req: GatewayRequest, res: ServerResponse, err: unknown): void;
	/** Answers a request that failed. */
	errorHandler(req: GatewayRequest, res: ServerResponse, err: unknown): void;
}

/** The methods of the api service, with those of moleculer-web it calls or replaces. */
export interface ApiMethods extends GatewayMethods {
	/** moleculer-web's authentication hook: the caller of the request, or a 401; `null` on a public route, token or not. */
	authenticate(ctx: Context, route: unknown, req: GatewayRequest, res: ServerResponse, alias: { action?: string }): Promise<Caller | null>;
	/** Counts the request against its caller's budget (the token's subject, else the client address); a 429 once it is spent. */
	limitRate(req: GatewayRequest, res: ServerResponse, subject: string | undefined): Promise<void>;
	/** moleculer-web's authorization hook: a 403 when the caller's role may not call the route. */
	authorize(ctx: Context<unknown, { user?: Caller | null }>, route: unknown, req: GatewayRequest, res: ServerResponse, alias: { action?: string }): void;
	/** Replaces moleculer-web's: makes the HTTP server with this API's request and header timeouts. */
	createServer(): void;
	/** Replaces moleculer-web's: logs a line of the route table, unless it is empty. */
	logRouteRegistration(message: string): void;
	/** Writes one of the gateway's own fixed answers (the docs page and its files, `/`, `/api`). */
	serveFixed(req: GatewayRequest, res: ServerResponse, answer: DocsResponse): void;
}

/** What the api service keeps on its instance besides moleculer-web's own state. */
export interface ApiVars {
	/** The HTTP server (moleculer-web's `server`), made by {@link ApiMethods.createServer}. */
	server: Server;
	/** moleculer-web reads it to write `http` or `https` in its log line. */
	isHTTPS: boolean;
	/** Checks bearer tokens. */
	tokens: TokenVerifier;
	/** The per-caller limiter, being made (its store may need a connection) from `created` on. */
	rateLimiterReady: Promise<CallerRateLimiter>;
	rateLimiter?: CallerRateLimiter;
}
