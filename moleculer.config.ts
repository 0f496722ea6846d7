/**
 * Moleculer broker options and per-service settings, all read from the environment here and nowhere
 * else. Every variable has a default that works on a laptop:
 *
 * | variable                 | default                                  |
 * |--------------------------|------------------------------------------|
 * | TRANSPORTER              | none: all services in one process (a comma list of the URLs of one RabbitMQ cluster's nodes: failover) |
 * | CLUSTER_SECRET           | none; required with TRANSPORTER (every bus packet is signed with it) |
 * | CLUSTER_SECRET_PREVIOUS  | none (a second key accepted when checking, during a rotation) |
 * | SERVICES                 | api,orders,processor                     |
 * | NODEID                   | <hostname>-<pid>                         |
 * | NAMESPACE                | (empty)                                  |
 * | PORT                     | 3000                                     |
 * | HOST                     | 0.0.0.0 (the api's bind address)         |
 * | METRICS_PORT             | 3030 (/metrics, /health/live, /health/ready; `off` disables them) |
 * | METRICS_HOST             | 127.0.0.1 (the metrics endpoint's bind address) |
 * | CORS_ORIGINS             | (empty: no browser origin may call the API) |
 * | ORDERS_DATABASE_URL      | embedded PostgreSQL under ./data/orders  |
 * | PROCESSOR_DATABASE_URL   | embedded PostgreSQL under ./data/processor |
 * | DATA_DIR                 | ./data                                   |
 * | DEMO_STOCK               | true                                     |
 * | CONSUMER_PREFETCH        | 16 (messages an event consumer holds unacknowledged) |
 * | REQUEST_PREFETCH         | 1 (requests of one action a node runs at once; lib/transport/request-channel.ts) |
 * | QUEUE_TYPE               | classic (or quorum: the durable event, retry and dead-letter queues; docs/queues.md) |
 * | PROCESSOR_BATCH_SIZE     | 16 (order.created events handled in one transaction at most) |
 * | CREATE_CONCURRENCY       | 8 (creates one orders node writes at once; the rest wait their turn) |
 * | CREATE_QUEUE_SIZE        | 1000 (creates waiting their turn, past which a create is answered 503) |
 * | RATE_LIMIT_PER_MINUTE    | 600 (0 turns limiting off)               |
 * | RATE_LIMIT_DATABASE_URL  | none: counters in this process's memory  |
 * | TRUSTED_PROXIES          | (empty: X-Forwarded-For is ignored)      |
 * | JWT_SECRET               | none: a secret made for the run, tokens printed |
 * | JWT_JWKS_URL             | none (https://, http:// for localhost only; JWT_ISSUER and JWT_AUDIENCE then required) |
 * | JWT_ISSUER, JWT_AUDIENCE | none (checked when set)                  |
 * | JWT_CLOCK_TOLERANCE_S    | 30                                       |
 * | JWT_MAX_TTL_S            | 86400 (longest exp - iat of a token accepted) |
 * | IDEMPOTENCY_KEY_TTL_MS   | 86400000 (one day)                       |
 * | OUTBOX_RETENTION_MS      | 86400000 (one day)                       |
 * | INBOX_RETENTION_MS       | 604800000 (seven days)                   |
 * | ORDER_TIMEOUT_MS         | 300000 (five minutes pending, then expired) |
 * | READY_MAX_OUTBOX_LAG_S   | 300 (oldest unpublished outbox event; 0: not checked) |
 * | RETRY_MAX_ATTEMPTS       | 5                                        |
 * | RETRY_BASE_DELAY_MS      | 1000                                     |
 * | RETRY_MAX_DELAY_MS       | 60000                                    |
 * | LOG_LEVEL                | info                                     |
 * | LOG_FORMAT               | pretty when stdout is a terminal, else json (one JSON object a line) |
 * | FAULT_POINTS             | (empty; failure tests only, see lib/fault-points.ts) |
 * | OTEL_EXPORTER_OTLP_ENDPOINT | none: tracing off; set, spans go to `<endpoint>/v1/traces` (docs/tracing.md) |
 * | OTEL_SERVICE_NAME        | order-pipeline-<services>, e.g. order-pipeline-api-orders |
 * | OTEL_BSP_SCHEDULE_DELAY  | 5000 (ms a finished span may wait before its batch is sent) |
 */
import { hostname } from "node:os";
import type { BrokerOptions } from "moleculer";
import { LocalFirstCalls, SettleTimedOutRemoteCalls } from "./lib/broker/call-middlewares";
import { LineLogger } from "./lib/logging/line-logger";
import { LOG_FORMATS, defaultLogFormat, type LogFormat } from "./lib/logging/log-format";
import { deadLetterReplCommands } from "./lib/repl/dead-letter-commands";
import { historyReplCommands } from "./lib/repl/history-commands";
import { eventAwareErrorHandler } from "./lib/transport/event-failures";
import { DEFAULT_CONSUMER_PREFETCH, ReliableAmqpTransporter } from "./lib/transport/reliable-amqp";
import { DEFAULT_REQUEST_PREFETCH } from "./lib/transport/request-channel";
import { DEFAULT_QUEUE_TYPE, QUEUE_TYPES, type QueueType } from "./lib/transport/event-queues";
import { clusterKeys } from "./lib/transport/packet-signing";
import { brokerUrlsProblem, splitBrokerUrls } from "./lib/transport/broker-urls";
import { AjvValidator } from "./lib/validation/ajv-validator";
import { BusinessMetricsMiddleware } from "./lib/metrics/business-metrics";
import { PrometheusReporter } from "./lib/metrics/prometheus-reporter";
import { readTracingConfig, type TracingConfig } from "./lib/tracing/config";
import { TracingMiddleware } from "./lib/tracing/moleculer-middleware";
import { DEFAULT_DATA_DIR, embeddedDataDirOf } from "./lib/database/embedded-postgres";
import { DEFAULT_READY_MAX_OUTBOX_LAG_S } from "./lib/health/readiness";
import { DEFAULT_CREATE_CONCURRENCY, DEFAULT_CREATE_QUEUE_SIZE } from "./services/orders/orders.defaults";
import { DEFAULT_PROCESSOR_BATCH_SIZE } from "./services/processor/processor.defaults";
import { ConfigError } from "./lib/startup-error";
import { addresses, bindAddress, boolean, databaseUrl, integer, oneOf, origins, text, type Env } from "./lib/config/env";
import { redactUrl } from "./lib/database/database-target";
import { clusterSecrets, jwtConfig, type ClusterSecrets, type JwtConfig } from "./lib/config/secrets";
import type { DeliveryPolicy } from "./lib/transport/delivery-policy";

export const SERVICE_NAMES = ["api", "orders", "processor"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface AppConfig {
	/** The broker URLs (TRANSPORTER): one, or the nodes of one RabbitMQ cluster, tried in order. */
	transporter?: string[];
	/** The key every bus packet is signed and checked with, and one more accepted in a rotation; set whenever `transporter` is. */
	cluster?: ClusterSecrets;
	services: ServiceName[];
	nodeID: string;
	namespace: string;
	port: number;
	host: string;
	metricsPort: number | null;
	metricsHost: string;
	/** Origins a browser may call the API from; empty means CORS is closed. */
	corsOrigins: string[];
	ordersDatabaseUrl?: string;
	processorDatabaseUrl?: string;
	dataDir: string;
	demoStock: boolean;
	/** Messages one event consumer may hold unacknowledged: also the processor's largest batch in practice. */
	consumerPrefetch: number;
	/** Requests of one action a node runs at once: a busy node takes no more, the others do. */
	requestPrefetch: number;
	/** The type of the durable event, retry and dead-letter queues (Moleculer's own queues stay classic). */
	queueType: QueueType;
	/** `order.created` events the processor handles in one transaction at most. */
	processorBatchSize: number;
	/**
	 * Creates one orders node writes at once (a Moleculer bulkhead on `orders.create`): fewer than the
	 * pool's 10 connections, so the relay and the answers never queue behind a flood of creates.
	 */
	createConcurrency: number;
	/** Creates waiting for their turn at most; past it a create is refused (503, try again). */
	createQueueSize: number;
	rateLimitPerMinute: number;
	/** PostgreSQL that holds the rate-limit counters, shared by every api instance; unset: memory. */
	rateLimitDatabaseUrl?: string;
	/** Addresses of reverse proxies whose X-Forwarded-For names the client; empty: none is trusted. */
	trustedProxies: string[];
	/** How bearer tokens are checked; `secret` undefined with no JWKS: a secret is made for the run. */
	jwt: JwtConfig;
	/** How long an Idempotency-Key answers with its first order; after that the key is free again. */
	idempotencyKeyTtlMs: number;
	outboxRetentionMs: number;
	inboxRetentionMs: number;
	/** How long an order may stay `pending` before it expires (and is compensated like a cancellation). */
	orderTimeoutMs: number;
	/** When a failed event handler runs again, and when its event is dead-lettered (or marked failed). */
	delivery: DeliveryPolicy;
	/** Readiness fails when a local outbox's oldest unpublished event is older than this; 0: not checked. */
	readyMaxOutboxLagSeconds: number;
	logLevel: (typeof LOG_LEVELS)[number];
	/** JSON lines for machines, or one readable line an entry for a person at a terminal. */
	logFormat: LogFormat;
	/** Colours in pretty lines: only when stdout is a terminal. */
	logColors: boolean;
	/** Crash points for the failure tests; empty in any real deployment. */
	faultPoints: string[];
	/** Where spans are exported (OpenTelemetry); undefined: tracing is off. */
	tracing?: TracingConfig;
}

// ConfigError lives with StartupError: code that runs before Moleculer is loaded throws it too.
export { ConfigError };
export { placeholderSecretProblem, type JwtConfig } from "./lib/config/secrets";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

/**
 * Reads and checks every variable; a bad value stops the start with a message naming it.
 * `stdoutIsTerminal` decides what LOG_FORMAT defaults to, and whether pretty lines have colours.
 */
export function readEnvironment(env: Env = process.env, stdoutIsTerminal = process.stdout.isTTY === true): AppConfig {
	const servicesRaw = text(env, "SERVICES");
	const services = servicesRaw
		? servicesRaw.split(",").map(s => s.trim()).filter(Boolean)
		: [...SERVICE_NAMES];
	for (const name of services) {
		if (!SERVICE_NAMES.includes(name as ServiceName)) {
			throw new ConfigError("SERVICES", servicesRaw ?? "", `a comma list of ${SERVICE_NAMES.join(", ")}`);
		}
	}
	const metricsRaw = text(env, "METRICS_PORT");
	const transporter = text(env, "TRANSPORTER");
	const brokerUrls = transporter === undefined ? undefined : splitBrokerUrls(transporter);
	const brokerProblem = brokerUrls && brokerUrlsProblem(brokerUrls);
	if (brokerProblem) throw new ConfigError("TRANSPORTER", brokerUrls.map(redactUrl).join(",") || transporter!, brokerProblem);
	const dataDir = text(env, "DATA_DIR") ?? DEFAULT_DATA_DIR;
	const logFormat = oneOf(env, "LOG_FORMAT", LOG_FORMATS, defaultLogFormat(stdoutIsTerminal));
	return {
		transporter: brokerUrls,
		cluster: clusterSecrets(env, transporter),
		services: [...new Set(services)] as ServiceName[],
		nodeID: text(env, "NODEID") ?? `${hostname()}-${process.pid}`,
		namespace: text(env, "NAMESPACE") ?? "",
		port: integer(env, "PORT", 3000, 0, 65535),
		host: bindAddress(env, "HOST", "0.0.0.0"),
		metricsPort: metricsRaw === "off" ? null : integer(env, "METRICS_PORT", 3030, 0, 65535),
		metricsHost: bindAddress(env, "METRICS_HOST", "127.0.0.1"),
		corsOrigins: origins(env, "CORS_ORIGINS"),
		ordersDatabaseUrl: databaseUrl(env, "ORDERS_DATABASE_URL"),
		processorDatabaseUrl: databaseUrl(env, "PROCESSOR_DATABASE_URL"),
		dataDir,
		demoStock: boolean(env, "DEMO_STOCK", true),
		consumerPrefetch: integer(env, "CONSUMER_PREFETCH", DEFAULT_CONSUMER_PREFETCH, 1, 1000),
		requestPrefetch: integer(env, "REQUEST_PREFETCH", DEFAULT_REQUEST_PREFETCH, 1, 1000),
		queueType: oneOf(env, "QUEUE_TYPE", QUEUE_TYPES, DEFAULT_QUEUE_TYPE),
		processorBatchSize: integer(env, "PROCESSOR_BATCH_SIZE", DEFAULT_PROCESSOR_BATCH_SIZE, 1, 1000),
		createConcurrency: integer(env, "CREATE_CONCURRENCY", DEFAULT_CREATE_CONCURRENCY, 1, 1000),
		createQueueSize: integer(env, "CREATE_QUEUE_SIZE", DEFAULT_CREATE_QUEUE_SIZE, 1, 1_000_000),
		rateLimitPerMinute: integer(env, "RATE_LIMIT_PER_MINUTE", 600, 0, 1_000_000),
		rateLimitDatabaseUrl: databaseUrl(env, "RATE_LIMIT_DATABASE_URL"),
		trustedProxies: addresses(env, "TRUSTED_PROXIES"),
		jwt: jwtConfig(env),
		idempotencyKeyTtlMs: integer(env, "IDEMPOTENCY_KEY_TTL_MS", 86_400_000, 60_000, 31_536_000_000),
		outboxRetentionMs: integer(env, "OUTBOX_RETENTION_MS", 86_400_000, 0, 31_536_000_000),
		inboxRetentionMs: integer(env, "INBOX_RETENTION_MS", 604_800_000, 0, 31_536_000_000),
		orderTimeoutMs: integer(env, "ORDER_TIMEOUT_MS", 300_000, 1000, 2_592_000_000),
		delivery: {
			maxAttempts: integer(env, "RETRY_MAX_ATTEMPTS", 5, 1, 100),
			baseDelayMs: integer(env, "RETRY_BASE_DELAY_MS", 1000, 1, 3_600_000),
			maxDelayMs: integer(env, "RETRY_MAX_DELAY_MS", 60_000, 1, 86_400_000)
		},
		readyMaxOutboxLagSeconds: integer(env, "READY_MAX_OUTBOX_LAG_S", DEFAULT_READY_MAX_OUTBOX_LAG_S, 0, 86_400),
		logLevel: oneOf(env, "LOG_LEVEL", LOG_LEVELS, "info"),
		logFormat,
		logColors: logFormat === "pretty" && stdoutIsTerminal,
		faultPoints: (text(env, "FAULT_POINTS") ?? "").split(",").map(s => s.trim()).filter(Boolean),
		tracing: readTracingConfig(env)
	};
}

/** Moleculer's built-in metrics that describe the machine, its user or the command line. */
export const HOST_DETAIL_METRICS = [
	"process.arguments",
	"process.pid",
	"process.ppid",
	"os.hostname",
	"os.release",
	"os.user.*",
	"os.network.*",
	"os.cpu.info.*",
	"os.datetime.*"
];

/** Broker options for one node. */
export function createBrokerOptions(config: AppConfig): BrokerOptions {
	return {
		namespace: config.namespace,
		nodeID: config.nodeID,
		logger: new LineLogger({ level: config.logLevel, format: config.logFormat, colors: config.logColors }),
		transporter: config.transporter
			? new ReliableAmqpTransporter({
					url: config.transporter,
					prefetch: config.consumerPrefetch,
					requestPrefetch: config.requestPrefetch,
					queueType: config.queueType,
					policy: config.delivery,
					// readEnvironment requires the key whenever a transporter is set.
					signing: { keys: clusterKeys(config.cluster!.secret, config.cluster!.previousSecret) }
				})
			: undefined,
		// With a transporter, balanced events go to the group's durable RabbitMQ queue even when no
		// consumer node is known (the built-in balancer would drop them). Without one, the built-in
		// balancer is the only thing that delivers events at all.
		disableBalancer: Boolean(config.transporter),
		// Local actions run in-process whatever the broker's state; a remote call that timed out lets
		// go of its request (lib/broker/call-middlewares.ts).
		// The business metrics (lib/metrics) are registered once per broker, whatever services it runs.
		// With tracing on, actions and events are spans (lib/tracing); Moleculer's own tracing stays off.
		middlewares: [LocalFirstCalls, SettleTimedOutRemoteCalls, BusinessMetricsMiddleware, ...(config.tracing ? [TracingMiddleware] : [])],
		validator: new AjvValidator({}),
		errorHandler: eventAwareErrorHandler,
		requestTimeout: 15_000,
		// Shutdown waits for running actions and event handlers before closing connections.
		tracking: { enabled: true, shutdownTimeout: 10_000 },
		circuitBreaker: { enabled: true, threshold: 0.5, minRequestCount: 20, windowTime: 60, halfOpenTime: 10_000 },
		metrics:
			config.metricsPort === null
				? { enabled: false }
				: {
						enabled: true,
						// Moleculer skips the process and OS metrics when NODE_ENV=test; a node serves them always.
						collectProcessMetrics: true,
						// Moleculer's Prometheus reporter, writing histograms' `_sum` and `_count` too (lib/metrics).
						reporter: [
							new PrometheusReporter({
								port: config.metricsPort,
								host: config.metricsHost,
								path: "/metrics",
								// Facts about the host are nobody's business on a scrape endpoint.
								excludes: HOST_DETAIL_METRICS,
								// The same port serves /health/live and /health/ready (lib/health).
								readyMaxOutboxLagSeconds: config.readyMaxOutboxLagSeconds
							})
						]
					},
		replOptions: { delimiter: "orders $ ", customCommands: [...deadLetterReplCommands, ...historyReplCommands] }
	} as BrokerOptions;
}

/** Settings each service gets from the environment. */
export function serviceSettings(config: AppConfig): Record<ServiceName | "deadLetters", Record<string, unknown>> {
	return {
		deadLetters: { amqpUrl: config.transporter },
		api: {
			port: config.port,
			ip: config.host,
			corsOrigins: config.corsOrigins,
			trustedProxies: config.trustedProxies,
			jwt: config.jwt,
			callerRateLimit: { perMinute: config.rateLimitPerMinute, databaseUrl: config.rateLimitDatabaseUrl },
			readyMaxOutboxLagSeconds: config.readyMaxOutboxLagSeconds
		},
		orders: {
			databaseUrl: config.ordersDatabaseUrl,
			outboxRetentionMs: config.outboxRetentionMs,
			inboxRetentionMs: config.inboxRetentionMs,
			orderTimeoutMs: config.orderTimeoutMs,
			idempotencyKeyTtlMs: config.idempotencyKeyTtlMs,
			createConcurrency: config.createConcurrency,
			createQueueSize: config.createQueueSize,
			outboxDelivery: config.delivery,
			faultPoints: config.faultPoints,
			embeddedDataDir: embeddedDataDirOf("orders", config.dataDir)
		},
		processor: {
			databaseUrl: config.processorDatabaseUrl,
			outboxRetentionMs: config.outboxRetentionMs,
			outboxDelivery: config.delivery,
			faultPoints: config.faultPoints,
			embeddedDataDir: embeddedDataDirOf("processor", config.dataDir),
			demoStock: config.demoStock,
			batchSize: config.processorBatchSize
		}
	};
}

/**
 * For moleculer-runner, which calls a config function: evaluated when asked for, so that a bad
 * variable is reported by whoever starts the node, never thrown while this module loads.
 */
export default function brokerConfig(): BrokerOptions {
	return createBrokerOptions(readEnvironment());
}
