import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Errors, type Context, type Service, type ServiceSettingSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import helmet from "helmet";
import type { Caller } from "../../lib/auth/caller";
import { ForbiddenRoleError } from "../../lib/auth/auth.errors";
import { createTokenVerifier, type TokenSettings, type TokenVerifier } from "../../lib/auth/tokens";
import { redactUrl } from "../../lib/database/database-target";
import { setHttpRoute } from "../../lib/tracing";
import { DEFAULT_READY_MAX_OUTBOX_LAG_S, nodeReadiness } from "../../lib/health/readiness";
import { docsResponse, type DocsResponse } from "./docs";
import { frontDoorResponse } from "./front-door";
import { openApiDocument } from "./openapi";
import { queryParameterNames, takesBody, toOpenApiPath } from "./openapi.params";
import { RateLimitExceededError, callerKey, createCallerRateLimiter, type CallerRateLimiter } from "../../lib/http/rate-limit";
import type { PartialSettingsSchema } from "../../lib/broker/service-schema";
import { BodyTooDeepError, InvalidHeaderError, InvalidQueryParameterError, MethodNotAllowedError, NotReadyError, UnsupportedMediaTypeError } from "./api.errors";
import { PROBLEM_CONTENT_TYPE, toProblem } from "./problem";
import {
	HEADER_TOKEN,
	MAX_BODY_DEPTH,
	correlationIdOf,
	hasBody,
	nestsDeeperThan,
	screenQuery,
	writeProblem,
	type GatewayRequest
} from "./gateway-http";
import {
	API_PATH,
	API_ROUTES,
	BODY_LIMIT_BYTES,
	CORS_ALLOWED_HEADERS,
	CORS_EXPOSED_HEADERS,
	accessOf,
	aliasesOf,
	allowedMethods,
	isAllowedOrigin,
	pathOf,
	routeOf,
	type ApiRoute
} from "./routes";

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
	/** moleculer-web's authentication hook: the caller of the request, or a 401; `null` on a public route without a token. */
	authenticate(ctx: Context, route: unknown, req: GatewayRequest, res: ServerResponse, alias: { action?: string }): Promise<Caller | null>;
	/** Counts the request against its caller's budget (the token's subject, else the client address); a 429 once it is spent. */
	limitRate(req: GatewayRequest, res: ServerResponse, subject: string | undefined): Promise<void>;
	/** moleculer-web's authorization hook: a 403 when the caller's role may not call the route. */
	authorize(ctx: Context<unknown, { user?: Caller | null }>, route: unknown, req: GatewayRequest, res: ServerResponse, alias: { action?: string }): void;
	answerOptions(req: GatewayRequest, res: ServerResponse, allow: string[], corsOrigin: string | undefined): void;
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

/** How long a browser may cache a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** Security headers of every API answer: JSON only, never framed, nothing loaded. */
const apiHelmet = helmet({
	contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
	frameguard: { action: "deny" }
});

/** The docs page runs its own scripts and styles, and nothing from elsewhere. */
const docsHelmet = helmet({ contentSecurityPolicy: false, frameguard: { action: "deny" } });

/** Writes an RFC 9457 problem document for any error, logging the unexpected ones. */
function sendProblem(this: Service<ApiSettings>, req: GatewayRequest, res: ServerResponse, err: unknown) {
	writeProblem(req, res, err, this.logger);
}

/** A moleculer-web route under {@link API_PATH} for `routes`, reading JSON bodies when `readsBody`. */
function apiRoute(name: string, routes: readonly ApiRoute[], readsBody: boolean) {
	return {
		name,
		path: API_PATH,
		mappingPolicy: "restrict" as const,
		autoAliases: false,
		aliases: aliasesOf(routes),
		bodyParsers: readsBody
			? {
					// Any JSON media type, `application/merge-patch+json` say, is read as JSON.
					json: { strict: true, limit: BODY_LIMIT_BYTES, type: ["application/json", "application/*+json"] },
					urlencoded: false
				}
			: false,
		callOptions: { timeout: 15_000 },
		authentication: true,
		authorization: true,
		onBeforeCall(this: Service<ApiSettings>, ctx: Context<unknown, Record<string, unknown>>, _route: unknown, req: GatewayRequest, res: ServerResponse) {
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
		},
		onError: sendProblem
	};
}

const ApiService: PartialSettingsSchema<ApiSettings, ApiMethods, ApiVars> = {
	name: "api",
	mixins: [ApiGateway],

	// --- settings --------------------------------------------------------------------------------
	settings: {
		// Port and address come from the environment (serviceSettings); CORS stays closed without it.
		corsOrigins: [],
		readyMaxOutboxLagSeconds: DEFAULT_READY_MAX_OUTBOX_LAG_S,
		// Node's defaults hold a request whose body trickles in for 300 s (and its headers for 60 s):
		// a few hundred slow clients would hold every socket. No request of this API takes a client
		// longer than this to send.
		requestTimeout: 30_000,
		headersTimeout: 10_000,
		logRequest: "debug",
		logResponse: "debug",
		onError: sendProblem,
		// A body is read only for the operations that document one: elsewhere it is never parsed nor
		// merged into the params (a JSON body on a GET or on a replay changes nothing), and so never
		// answered with 413 or 415. moleculer-web matches aliases across routes; the one without body
		// parsers comes first, so that a path no route has is answered 404 without reading a body.
		routes: [
			apiRoute("api", API_ROUTES.filter(route => !takesBody(route)), false),
			apiRoute("api-json", API_ROUTES.filter(takesBody), true)
		]
	},

	// --- lifecycle -------------------------------------------------------------------------------
	created() {
		this.tokens = createTokenVerifier(this.settings.jwt, { logger: this.logger });
		const { perMinute, databaseUrl } = this.settings.callerRateLimit;
		this.rateLimiterReady = createCallerRateLimiter({ perMinute, databaseUrl, logger: this.logger });
		// Awaited in `started`; this keeps a failure from being reported as unhandled before then.
		this.rateLimiterReady.catch(() => undefined);
	},

	async started() {
		// The identity provider's keys are read ahead of the first request; not awaited, so that a
		// provider that is down does not stop this node (its requests get 503 until the keys come).
		void this.tokens.prepare();
		this.rateLimiter = await this.rateLimiterReady;
		const { perMinute, databaseUrl } = this.settings.callerRateLimit;
		const where = databaseUrl ? `counted in PostgreSQL (${redactUrl(databaseUrl)}), shared by every api instance` : "counted in this process's memory";
		this.logger.info(perMinute > 0 ? `Rate limit: ${perMinute} requests per minute and caller, ${where}.` : "Rate limit: off (RATE_LIMIT_PER_MINUTE=0).");
	},

	async stopped() {
		this.tokens.close();
		await this.rateLimiter?.close();
	},

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		// moleculer-web's own actions would let any node of the bus add a route without
		// authentication, or remove one; the routes are this file's, fixed at start.
		addRoute: false,
		removeRoute: false,
		listAliases: false,

		/** The OpenAPI 3.1 document of this API, built from the route table and the request schemas. */
		openapi: {
			handler(): object {
				return openApiDocument();
			}
		},

		/** Liveness: this process answers HTTP. */
		live: {
			handler(): { status: "ok" } {
				return { status: "ok" };
			}
		},

		/**
		 * Readiness of this node (lib/health/readiness.ts), as the public may know it: `{ status: "ok" }`,
		 * or a 503 problem that names nothing. Which check failed, and each outbox's lag, are on the
		 * metrics port's `/health/ready`: a dependency's name or error message tells an attacker
		 * what to hit. "Not ready" is an answer, not an error: thrown, it would trip the circuit
		 * breaker of this very action and keep the node unready after its dependencies came back.
		 */
		ready: {
			async handler(ctx: Context<unknown, Record<string, unknown>>): Promise<Record<string, unknown>> {
				const report = await nodeReadiness(this.broker, { maxOutboxLagSeconds: this.settings.readyMaxOutboxLagSeconds }).get();
				if (report.status === "ok") return { status: "ok" };
				const { problem } = toProblem(new NotReadyError(), { method: "GET", url: "/api/health/ready" });
				ctx.meta.$statusCode = problem.status;
				ctx.meta.$responseType = PROBLEM_CONTENT_TYPE;
				return { ...problem, instance: "/api/health/ready" };
			}
		}
	},

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * The caller of a request, from its bearer token; a 401 on a route that needs one when the
		 * token is missing or refused. A public route ignores a token it does not need.
		 */
		async authenticate(_ctx, _route, req, res, alias) {
			// With tracing on, the request's span is named after its route (`POST /api/orders/:id/cancel`).
			setHttpRoute((alias as { fullPath?: string }).fullPath);
			if (accessOf(alias.action) === "public") return null;
			let caller: Caller | undefined;
			let refusal: unknown;
			try {
				caller = await this.tokens.callerOf(req.headers.authorization);
			} catch (err) {
				refusal = err;
			}
			// A refused token counts too, against the client's address: guessing tokens is not free.
			await this.limitRate(req, res, caller?.sub);
			if (!caller) throw refusal;
			return caller;
		},

		async limitRate(req, res, subject) {
			const limiter = this.rateLimiter ?? (await this.rateLimiterReady);
			if (limiter.perMinute === 0) return;
			const decision = await limiter.consume(callerKey(req, subject, this.settings.trustedProxies));
			res.setHeader("RateLimit-Limit", String(decision.limit));
			res.setHeader("RateLimit-Remaining", String(decision.remaining));
			res.setHeader("RateLimit-Reset", String(decision.resetSeconds));
			if (!decision.allowed) throw new RateLimitExceededError(decision.limit, decision.retryAfterSeconds);
		},

		/** Admin routes need the role `admin`; every other route is open to any authenticated caller. */
		authorize(ctx, _route, _req, _res, alias) {
			const caller = ctx.meta.user;
			if (accessOf(alias.action) === "admin" && caller && caller.role !== "admin") throw new ForbiddenRoleError("admin", caller.role);
		},

		/**
		 * Answers what moleculer-web would get wrong before it routes a request: `OPTIONS` (moleculer-web
		 * takes a preflight's `Access-Control-Request-Method` as the method and runs that action),
		 * `HEAD` (served as `GET` without a body), and a known path with another method (405 with
		 * `Allow`). Sets the CORS headers of an allowed origin. The docs page and the front door (`/`,
		 * `/api`) are answered here, without an action.
		 */
		httpHandler(req: GatewayRequest, res: ServerResponse, next?: unknown) {
			const path = pathOf(req.url);
			const docs = docsResponse(path);
			if (docs) {
				docsHelmet(req, res, () => undefined);
				return this.serveFixed(req, res, docs);
			}
			apiHelmet(req, res, () => undefined);
			const allow = path === API_PATH || path.startsWith(`${API_PATH}/`) ? allowedMethods(path) : null;
			const method = req.method ?? "GET";
			const origin = req.headers.origin;
			const corsOrigin = isAllowedOrigin(origin, this.settings.corsOrigins) ? origin : undefined;
			if (corsOrigin) {
				res.setHeader("Access-Control-Allow-Origin", this.settings.corsOrigins.includes("*") ? "*" : corsOrigin);
				res.setHeader("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS.join(", "));
			}
			if (this.settings.corsOrigins.length > 0) res.setHeader("Vary", "Origin");
			const frontDoor = frontDoorResponse(path);
			if (frontDoor) return this.serveFixed(req, res, frontDoor);
			if (allow && method === "OPTIONS") return this.answerOptions(req, res, allow, corsOrigin);
			if (allow && !allow.includes(method)) return this.sendError(req, res, new MethodNotAllowedError(method, path, allow));
			const route = allow ? routeOf(method === "HEAD" ? "GET" : method, path) : undefined;
			if (route && req.url) {
				const known = queryParameterNames(route);
				const screened = screenQuery(req.url, known, route.method === "GET");
				if (screened.refused) {
					const { name, reason } = screened.refused;
					return this.sendError(req, res, new InvalidQueryParameterError(name, reason, `${route.method} ${toOpenApiPath(route.path)}`, known));
				}
				req.url = screened.url;
			}
			// Node's response to a HEAD request sends no body, whatever is written to it.
			if (allow && method === "HEAD") req.method = "GET";
			if (!allow && method === "OPTIONS") return this.sendError(req, res, new Errors.MoleculerClientError("Not found", 404, "NOT_FOUND"));
			return (ApiGateway.methods!.httpHandler as (...args: unknown[]) => unknown).call(this, req, res, next);
		},

		/** A fixed answer: `GET` and `HEAD` (without a body), `OPTIONS`; any other method is a 405. */
		serveFixed(req: GatewayRequest, res: ServerResponse, answer: DocsResponse) {
			const method = req.method ?? "GET";
			const allow = ["GET", "HEAD", "OPTIONS"];
			if (method === "OPTIONS") {
				res.setHeader("Allow", allow.join(", "));
				res.writeHead(204);
				return res.end();
			}
			if (!allow.includes(method)) return this.sendError(req, res, new MethodNotAllowedError(method, pathOf(req.url), allow));
			for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
			res.setHeader("Content-Type", answer.contentType);
			res.writeHead(answer.status);
			res.end(method === "HEAD" ? undefined : answer.body);
		},

		/**
		 * Makes the HTTP server (moleculer-web's own sets `requestTimeout` on a server made without
		 * options, and cannot set how often Node checks it). Node checks both timeouts only every
		 * `connectionsCheckingInterval` (30 s by default), so a slow client could stay for twice the
		 * timeout: it is checked every second here (or every headersTimeout, when shorter).
		 */
		createServer() {
			const { requestTimeout, headersTimeout } = this.settings;
			this.server = createServer(
				{ requestTimeout, headersTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) },
				this.httpHandler as (req: IncomingMessage, res: ServerResponse) => void
			);
			this.isHTTPS = false;
		},

		/** Replaces moleculer-web's, which also logs an empty line after each route's table (one line with no message in the log). */
		logRouteRegistration(message: string) {
			if (message.trim() !== "") this.logger.info(message);
		},

		/** `OPTIONS`: the methods of the path, and for an allowed origin the CORS preflight answer. Never an action. */
		answerOptions(req: GatewayRequest, res: ServerResponse, allow: string[], corsOrigin: string | undefined) {
			res.setHeader("Allow", allow.join(", "));
			const requested = req.headers["access-control-request-method"];
			if (corsOrigin && typeof requested === "string" && allow.includes(requested.toUpperCase())) {
				res.setHeader("Access-Control-Allow-Methods", allow.join(", "));
				res.setHeader("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS.join(", "));
				res.setHeader("Access-Control-Max-Age", String(PREFLIGHT_MAX_AGE_SECONDS));
			}
			res.writeHead(204);
			res.end();
		},

		/**
		 * Replaces moleculer-web's handler, which logs every non-4xx error — including a 400 from the
		 * body parser — with its stack: `sendProblem` logs what is unexpected, once, as one JSON line.
		 */
		errorHandler(req: GatewayRequest, res: ServerResponse, err: unknown) {
			this.sendError(req, res, err);
		}
	}
};

export default ApiService;
