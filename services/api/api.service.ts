/**
 * The REST gateway: moleculer-web, with the API's route table (routes.ts), its request guards
 * (api.guards.ts), security and CORS headers (api.cors.ts), the docs page and front door (docs.ts,
 * front-door.ts), readiness (api.readiness.ts) and RFC 9457 problems for every error.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Errors, type Context, type Service } from "moleculer";
import ApiGateway from "moleculer-web";
import type { Caller } from "../../lib/auth/caller";
import { createTokenVerifier } from "../../lib/auth/tokens";
import { redactUrl } from "../../lib/database/database-target";
import { setHttpRoute } from "../../lib/tracing";
import { DEFAULT_READY_MAX_OUTBOX_LAG_S } from "../../lib/health/readiness";
import { createCallerRateLimiter } from "../../lib/http/rate-limit";
import type { PartialSettingsSchema } from "../../lib/broker/service-schema";
import { MethodNotAllowedError } from "./api.errors";
import { answerOptions, apiHelmet, docsHelmet, setCorsHeaders } from "./api.cors";
import { authorizeCaller, guardCall, limitCallerRate, screenRouteQuery } from "./api.guards";
import { publicReadiness } from "./api.readiness";
import type { ApiMethods, ApiSettings, ApiVars } from "./api.types";
import { docsResponse, type DocsResponse } from "./docs";
import { frontDoorResponse, writeFixedAnswer } from "./front-door";
import { writeProblem, type GatewayRequest } from "./gateway-http";
import { openApiDocument } from "./openapi";
import { takesBody } from "./openapi.params";
import { API_PATH, API_ROUTES, BODY_LIMIT_BYTES, accessOf, aliasesOf, allowedMethods, pathOf, routeOf, type ApiRoute } from "./routes";

export type { ApiMethods, ApiSettings, ApiVars };

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
			guardCall(ctx, req, res, readsBody);
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
		// authentication, or remove one; the routes are the route table's, fixed at start.
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

		/** Readiness of this node as the public may know it: `{ status: "ok" }`, or a 503 problem that names nothing. */
		ready: {
			handler(ctx: Context<unknown, Record<string, unknown>>): Promise<Record<string, unknown>> {
				return publicReadiness(this.broker, this.settings.readyMaxOutboxLagSeconds, ctx.meta);
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

		/** Counts the request against its caller's budget (api.guards.ts); a 429 once it is spent. */
		async limitRate(req, res, subject) {
			const limiter = this.rateLimiter ?? (await this.rateLimiterReady);
			await limitCallerRate(limiter, req, res, subject, this.settings.trustedProxies);
		},

		/** Admin routes need the role `admin`; every other route is open to any authenticated caller. */
		authorize(ctx, _route, _req, _res, alias) {
			authorizeCaller(ctx.meta.user, alias.action);
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
			const corsOrigin = setCorsHeaders(req, res, this.settings.corsOrigins);
			const frontDoor = frontDoorResponse(path);
			if (frontDoor) return this.serveFixed(req, res, frontDoor);
			if (allow && method === "OPTIONS") return answerOptions(req, res, allow, corsOrigin);
			if (allow && !allow.includes(method)) return this.sendError(req, res, new MethodNotAllowedError(method, path, allow));
			const route = allow ? routeOf(method === "HEAD" ? "GET" : method, path) : undefined;
			const refused = route ? screenRouteQuery(req, route) : null;
			if (refused) return this.sendError(req, res, refused);
			// Node's response to a HEAD request sends no body, whatever is written to it.
			if (allow && method === "HEAD") req.method = "GET";
			if (!allow && method === "OPTIONS") return this.sendError(req, res, new Errors.MoleculerClientError("Not found", 404, "NOT_FOUND"));
			return (ApiGateway.methods!.httpHandler as (...args: unknown[]) => unknown).call(this, req, res, next);
		},

		/** A fixed answer: `GET` and `HEAD` (without a body), `OPTIONS`; any other method is a 405. */
		serveFixed(req: GatewayRequest, res: ServerResponse, answer: DocsResponse) {
			const refused = writeFixedAnswer(req, res, answer);
			if (refused) this.sendError(req, res, refused);
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
