import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import { InvalidHeaderError, NotReadyError, UnsupportedMediaTypeError } from "./api.errors";
import { PROBLEM_CONTENT_TYPE, toProblem } from "./problem";

export interface ApiSettings {
	port: number;
	ip: string;
	/** moleculer-web's rate limiter (per client IP); unset means no limit. */
	rateLimit?: { window: number; limit: number; headers: boolean };
}

type GatewayRequest = IncomingMessage & {
	$ctx?: Context<unknown, { correlationId?: string }>;
	$action?: { name: string };
	$endpoint?: { local?: boolean } | string;
	correlationId?: string;
	originalUrl?: string;
};

const HEADER_TOKEN = /^[A-Za-z0-9._:\-]{1,200}$/;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** Reads the caller's correlation id, or makes one; it follows the saga through both services. */
function correlationIdOf(req: GatewayRequest): string {
	if (req.correlationId) return req.correlationId;
	const given = req.headers["x-correlation-id"];
	const value = typeof given === "string" && HEADER_TOKEN.test(given) ? given : randomUUID();
	req.correlationId = value;
	return value;
}

/** True when the request carries a body. */
function hasBody(req: IncomingMessage): boolean {
	return Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
}

/** Writes an RFC 9457 problem document for any error. */
function sendProblem(this: { logger: { error(...a: unknown[]): void } }, req: GatewayRequest, res: ServerResponse, err: unknown) {
	const correlationId = correlationIdOf(req);
	const { problem, unexpected } = toProblem(err, { method: req.method, url: req.originalUrl ?? req.url });
	if (unexpected) this.logger.error("Request failed unexpectedly.", err, { correlationId, url: req.url });
	if (res.headersSent) return;
	res.setHeader("Content-Type", PROBLEM_CONTENT_TYPE);
	res.setHeader("X-Correlation-Id", correlationId);
	res.writeHead(problem.status);
	res.end(JSON.stringify({ ...problem, instance: req.originalUrl ?? req.url, correlationId }));
}

const ApiService: ServiceSchema<ApiSettings> = {
	name: "api",
	mixins: [ApiGateway],

	// --- settings --------------------------------------------------------------------------------
	settings: {
		port: 3000,
		ip: "0.0.0.0",
		logRequest: "debug",
		logResponse: "debug",
		onError: sendProblem,
		routes: [
			{
				path: "/api",
				mappingPolicy: "restrict",
				autoAliases: false,
				aliases: {
					"POST /orders": "orders.create",
					"GET /orders": "orders.list",
					"GET /orders/:id": "orders.get",
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
				},
				bodyParsers: { json: { strict: true, limit: "100kb" }, urlencoded: false },
				callOptions: { timeout: 15_000 },
				onBeforeCall(
					this: { broker: { options: { disableBalancer?: boolean } } },
					ctx: Context<unknown, Record<string, unknown>>,
					_route: unknown,
					req: GatewayRequest,
					res: ServerResponse
				) {
					// moleculer-web picked one node from the registry, which keeps a node killed with -9
					// until its heartbeat times out; a call sent to it waits for nobody. With a transporter,
					// a remote action is called by name instead: the request goes to the action's shared
					// RabbitMQ queue, which only live nodes consume. (This node itself is alive, and its
					// own queue exists from the start, before the shared one is declared.)
					if (this.broker.options.disableBalancer && req.$action && typeof req.$endpoint === "object" && !req.$endpoint.local) {
						req.$endpoint = req.$action.name;
					}

					const correlationId = correlationIdOf(req);
					ctx.meta.correlationId = correlationId;
					res.setHeader("X-Correlation-Id", correlationId);

					if (BODY_METHODS.has(req.method ?? "") && hasBody(req)) {
						const type = req.headers["content-type"];
						if (!type || !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) {
							throw new UnsupportedMediaTypeError(type);
						}
					}
					const key = req.headers["idempotency-key"];
					if (key !== undefined) {
						if (typeof key !== "string" || !HEADER_TOKEN.test(key)) {
							throw new InvalidHeaderError("Idempotency-Key", "must be 1-200 characters of letters, digits, '.', '_', ':' or '-'");
						}
						ctx.meta.idempotencyKey = key;
					}
				},
				onError: sendProblem
			}
		]
	} as ApiSettings,

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/** Liveness: this process answers HTTP. */
		live: {
			handler(): { status: "ok" } {
				return { status: "ok" };
			}
		},

		/**
		 * Readiness: both databases answer and the broker is connected. "Not ready" is an answer
		 * (503 with the failing checks), not an error: thrown, it would trip the circuit breaker of
		 * this very action and keep the node unready after its dependencies came back.
		 */
		ready: {
			async handler(ctx: Context<unknown, Record<string, unknown>>): Promise<Record<string, unknown>> {
				const checks: Record<string, string> = {};
				const probe = async (name: string, action: string) => {
					try {
						// Untracked: a probe that timed out must not hold up this node's shutdown.
						await ctx.call(action, {}, { timeout: 3000, retries: 0, tracking: false });
						checks[name] = "ok";
					} catch (err) {
						checks[name] = `unavailable (${(err as Error).message})`;
					}
				};
				await Promise.all([probe("ordersDatabase", "orders.health"), probe("processorDatabase", "processor.health")]);
				if (this.broker.transit) checks.broker = this.broker.transit.connected ? "ok" : "disconnected";
				if (Object.values(checks).every(state => state === "ok")) return { status: "ok", checks };

				const { problem } = toProblem(new NotReadyError(checks), { method: "GET", url: "/api/health/ready" });
				ctx.meta.$statusCode = problem.status;
				ctx.meta.$responseType = PROBLEM_CONTENT_TYPE;
				return { ...problem, instance: "/api/health/ready" };
			}
		}
	},

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Replaces moleculer-web's handler, which logs every non-4xx error — including a 400 from the
		 * body parser — with its stack: `sendProblem` logs what is unexpected, once, as one JSON line.
		 */
		errorHandler(req: GatewayRequest, res: ServerResponse, err: unknown) {
			this.sendError(req, res, err);
		}
	}
} as ServiceSchema<ApiSettings>;

export default ApiService;
