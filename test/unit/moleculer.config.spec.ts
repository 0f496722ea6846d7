import { hostname } from "node:os";
import { join } from "node:path";
import { ConfigError, HOST_DETAIL_METRICS, placeholderSecretProblem, createBrokerOptions, readEnvironment, serviceSettings } from "../../moleculer.config";
import { ReliableAmqpTransporter } from "../../lib/transport/reliable-amqp";
import { AjvValidator } from "../../lib/validation/ajv-validator";
import { BusinessMetricsMiddleware } from "../../lib/metrics/business-metrics";
import { PrometheusReporter } from "../../lib/metrics/prometheus-reporter";
import { LineLogger } from "../../lib/logging/line-logger";

function configErrorOf(env: Record<string, string>): ConfigError {
	try {
		readEnvironment(env);
	} catch (err) {
		return err as ConfigError;
	}
	throw new Error("readEnvironment accepted " + JSON.stringify(env));
}

/** Keys that pass every check (random-looking, 32 bytes and more). */
const KEY = "9f1c6d2a7be04e3f8a5d1c0b6e2f7a94";
const OTHER_KEY = "3b7e9a1d5c2f48e6b0a4d8c6e1f3a7b5";

describe("Test 'readEnvironment'", () => {
	it("should run all three services on a laptop without any variable", () => {
		const config = readEnvironment({}, false);
		expect(config).toEqual({
			transporter: undefined,
			services: ["api", "orders", "processor"],
			nodeID: `${hostname()}-${process.pid}`,
			namespace: "",
			port: 3000,
			host: "0.0.0.0",
			metricsPort: 3030,
			metricsHost: "127.0.0.1",
			corsOrigins: [],
			ordersDatabaseUrl: undefined,
			processorDatabaseUrl: undefined,
			dataDir: "./data",
			demoStock: true,
			consumerPrefetch: 16,
			requestPrefetch: 1,
			queueType: "classic",
			processorBatchSize: 16,
			createConcurrency: 8,
			createQueueSize: 1000,
			rateLimitPerMinute: 600,
			rateLimitDatabaseUrl: undefined,
			trustedProxies: [],
			jwt: { secret: undefined, jwksUrl: undefined, issuer: undefined, audience: undefined, clockToleranceSeconds: 30, maxTokenLifetimeSeconds: 86_400 },
			idempotencyKeyTtlMs: 86_400_000,
			outboxRetentionMs: 86_400_000,
			inboxRetentionMs: 604_800_000,
			orderTimeoutMs: 300_000,
			delivery: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 },
			readyMaxOutboxLagSeconds: 300,
			logLevel: "info",
			logFormat: "json",
			logColors: false,
			faultPoints: [],
			tracing: undefined
		});
	});

	it("should take the consumer prefetch and the processor's batch size from the environment, within bounds", () => {
		expect(readEnvironment({ CONSUMER_PREFETCH: "32", PROCESSOR_BATCH_SIZE: "1" })).toMatchObject({ consumerPrefetch: 32, processorBatchSize: 1 });
		expect(() => readEnvironment({ CONSUMER_PREFETCH: "0" })).toThrow(/CONSUMER_PREFETCH/);
		expect(() => readEnvironment({ PROCESSOR_BATCH_SIZE: "many" })).toThrow(/PROCESSOR_BATCH_SIZE/);
	});

	it("should take the request prefetch from the environment, within bounds", () => {
		expect(readEnvironment({ REQUEST_PREFETCH: "4" })).toMatchObject({ requestPrefetch: 4 });
		expect(() => readEnvironment({ REQUEST_PREFETCH: "0" })).toThrow(/REQUEST_PREFETCH/);
	});

	it("should take the queue type from the environment, and refuse an unknown one in one line naming QUEUE_TYPE", () => {
		expect(readEnvironment({ QUEUE_TYPE: "quorum" })).toMatchObject({ queueType: "quorum" });
		expect(() => readEnvironment({ QUEUE_TYPE: "stream" })).toThrow("QUEUE_TYPE='stream' is not valid: expected one of classic, quorum.");
	});

	it("should give the transporter the request prefetch and the queue type", () => {
		const options = createBrokerOptions(
			readEnvironment({ TRANSPORTER: "amqp://127.0.0.1", CLUSTER_SECRET: KEY, REQUEST_PREFETCH: "3", QUEUE_TYPE: "quorum", METRICS_PORT: "off" })
		);
		const transporter = options.transporter as unknown as { queueType: string; requests: { prefetch: number } };
		expect(transporter.queueType).toBe("quorum");
		expect(transporter.requests.prefetch).toBe(3);
		expect(options.disableBalancer).toBe(true);
	});

	it("should take how many creates an orders node writes at once, and how many may wait, from the environment", () => {
		expect(readEnvironment({ CREATE_CONCURRENCY: "2", CREATE_QUEUE_SIZE: "5" })).toMatchObject({ createConcurrency: 2, createQueueSize: 5 });
		expect(() => readEnvironment({ CREATE_CONCURRENCY: "0" })).toThrow(/CREATE_CONCURRENCY/);
		expect(() => readEnvironment({ CREATE_QUEUE_SIZE: "-1" })).toThrow(/CREATE_QUEUE_SIZE/);
	});

	it("should refuse a JWT_SECRET shorter than 256 bits, without printing it", () => {
		expect(() => readEnvironment({ JWT_SECRET: "short-secret" })).toThrow(/JWT_SECRET='\(hidden\)' is not valid: expected at least 32 bytes/);
	});

	it("should refuse example values of JWT_SECRET and CLUSTER_SECRET as keys, naming the variable and never the value", () => {
		const placeholders = [
			"CHANGE_ME_AT_LEAST_32_RANDOM_BYTES_0123456789abcdef0123",
			"changeme-changeme-0123456789abcdef0123456789",
			"my-example-secret-0123456789abcdef0123456789",
			"a".repeat(48),
			"x".repeat(30) + "0123456789ab"
		];
		for (const value of placeholders) {
			for (const name of ["JWT_SECRET", "CLUSTER_SECRET"]) {
				let message = "";
				try {
					readEnvironment({ [name]: value, ...(name === "CLUSTER_SECRET" ? { TRANSPORTER: "amqp://127.0.0.1" } : {}) });
				} catch (err) {
					message = (err as Error).message;
				}
				expect(message).toMatch(new RegExp(`^${name}='\\(hidden\\)' is not valid: expected a random key`));
				expect(message).not.toContain(value);
			}
		}
		expect(placeholderSecretProblem(KEY)).toBeUndefined();
	});

	it("should need CLUSTER_SECRET, at least 32 bytes, whenever TRANSPORTER is set", () => {
		expect(() => readEnvironment({ TRANSPORTER: "amqp://127.0.0.1" })).toThrow(/^CLUSTER_SECRET is not set: .*openssl rand -hex 32/);
		expect(() => readEnvironment({ TRANSPORTER: "amqp://127.0.0.1", CLUSTER_SECRET: "short" })).toThrow(/CLUSTER_SECRET='\(hidden\)' is not valid: expected at least 32 bytes/);
		expect(readEnvironment({ TRANSPORTER: "amqp://127.0.0.1", CLUSTER_SECRET: KEY }).cluster).toEqual({ secret: KEY, previousSecret: undefined });
		expect(readEnvironment({ TRANSPORTER: "amqp://127.0.0.1", CLUSTER_SECRET: KEY, CLUSTER_SECRET_PREVIOUS: OTHER_KEY }).cluster).toEqual({
			secret: KEY,
			previousSecret: OTHER_KEY
		});
		expect(() => readEnvironment({ TRANSPORTER: "amqp://127.0.0.1", CLUSTER_SECRET: KEY, CLUSTER_SECRET_PREVIOUS: KEY })).toThrow(/CLUSTER_SECRET_PREVIOUS/);
		// One process has no bus: no key needed, none used.
		expect(readEnvironment({}).cluster).toBeUndefined();
	});

	it("should read an identity provider's keys over https only, or over http on this machine", () => {
		const provider = { JWT_ISSUER: "i", JWT_AUDIENCE: "a" };
		const error = configErrorOf({ ...provider, JWT_JWKS_URL: "http://idp.example.com/jwks" });
		expect(error).toBeInstanceOf(ConfigError);
		expect(error.message).toMatch(/^JWT_JWKS_URL='http:\/\/idp\.example\.com\/jwks' is not valid: expected an https:\/\/ URL/);
		for (const url of ["http://10.0.0.5/jwks", "http://localhost.example.com/jwks", "ftp://idp.example.com/jwks", "https://id.example.com/ jwks"]) {
			expect(() => readEnvironment({ ...provider, JWT_JWKS_URL: url })).toThrow(/JWT_JWKS_URL/);
		}
		for (const url of ["http://127.0.0.1:8080/jwks.json", "http://127.3.2.1/jwks", "http://localhost:9000/jwks", "http://[::1]:9000/jwks", "https://id.example.com/jwks"]) {
			expect(readEnvironment({ ...provider, JWT_JWKS_URL: url }).jwt.jwksUrl).toBe(url);
		}
	});

	it("should take the longest token lifetime from JWT_MAX_TTL_S, within bounds", () => {
		expect(readEnvironment({ JWT_MAX_TTL_S: "3600" }).jwt.maxTokenLifetimeSeconds).toBe(3600);
		expect(configErrorOf({ JWT_MAX_TTL_S: "59" }).message).toMatch(/^JWT_MAX_TTL_S='59' is not valid: expected an integer from 60 to 31536000/);
		expect(() => readEnvironment({ JWT_MAX_TTL_S: "31536001" })).toThrow(/JWT_MAX_TTL_S/);
	});

	it("should check tokens one way only, and need the issuer and audience of an identity provider", () => {
		expect(() => readEnvironment({ JWT_SECRET: KEY, JWT_JWKS_URL: "https://id.example.com/jwks" })).toThrow(/JWT_JWKS_URL/);
		expect(() => readEnvironment({ JWT_JWKS_URL: "https://id.example.com/jwks", JWT_AUDIENCE: "api" })).toThrow(/JWT_ISSUER/);
		expect(() => readEnvironment({ JWT_JWKS_URL: "https://id.example.com/jwks", JWT_ISSUER: "https://id.example.com/" })).toThrow(/JWT_AUDIENCE/);
		expect(() => readEnvironment({ JWT_JWKS_URL: "file:///etc/passwd", JWT_ISSUER: "i", JWT_AUDIENCE: "a" })).toThrow(/JWT_JWKS_URL/);
		expect(readEnvironment({ JWT_JWKS_URL: "https://id.example.com/jwks", JWT_ISSUER: "i", JWT_AUDIENCE: "a" }).jwt).toMatchObject({
			jwksUrl: "https://id.example.com/jwks",
			issuer: "i",
			audience: "a"
		});
	});

	it("should refuse a TRUSTED_PROXIES entry that is not an IP address", () => {
		expect(() => readEnvironment({ TRUSTED_PROXIES: "10.0.0.1,proxy.local" })).toThrow(/TRUSTED_PROXIES='proxy.local'/);
	});

	it("should turn the metrics endpoint off with METRICS_PORT=off", () => {
		expect(readEnvironment({ METRICS_PORT: "off" }).metricsPort).toBeNull();
	});

	it("should read the given values", () => {
		const config = readEnvironment({
			TRANSPORTER: "amqp://guest:guest@rabbit:5672",
			CLUSTER_SECRET: KEY,
			SERVICES: " orders , processor ",
			NODEID: "worker-1",
			NAMESPACE: "staging",
			PORT: "8080",
			METRICS_PORT: "9100",
			ORDERS_DATABASE_URL: "postgres://db/orders",
			DEMO_STOCK: "no",
			RATE_LIMIT_PER_MINUTE: "0",
			RETRY_MAX_ATTEMPTS: "3",
			RETRY_BASE_DELAY_MS: "250",
			LOG_LEVEL: "debug"
		});
		expect(config).toMatchObject({
			transporter: ["amqp://guest:guest@rabbit:5672"],
			services: ["orders", "processor"],
			nodeID: "worker-1",
			namespace: "staging",
			port: 8080,
			metricsPort: 9100,
			ordersDatabaseUrl: "postgres://db/orders",
			demoStock: false,
			rateLimitPerMinute: 0,
			delivery: { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 60_000 },
			logLevel: "debug"
		});
	});

	it("should bound the outbox lag readiness accepts with READY_MAX_OUTBOX_LAG_S, 0 turning the check off", () => {
		expect(readEnvironment({ READY_MAX_OUTBOX_LAG_S: "60" }).readyMaxOutboxLagSeconds).toBe(60);
		expect(readEnvironment({ READY_MAX_OUTBOX_LAG_S: "0" }).readyMaxOutboxLagSeconds).toBe(0);
		expect(readEnvironment({ READY_MAX_OUTBOX_LAG_S: "86400" }).readyMaxOutboxLagSeconds).toBe(86_400);
		expect(configErrorOf({ READY_MAX_OUTBOX_LAG_S: "-1" }).message).toBe("READY_MAX_OUTBOX_LAG_S='-1' is not valid: expected an integer from 0 to 86400.");
		expect(configErrorOf({ READY_MAX_OUTBOX_LAG_S: "5m" }).message).toMatch(/^READY_MAX_OUTBOX_LAG_S='5m'/);
	});

	it("should expire pending orders after ORDER_TIMEOUT_MS, from 1 s to 30 days", () => {
		expect(readEnvironment({ ORDER_TIMEOUT_MS: "1500" }).orderTimeoutMs).toBe(1500);
		expect(readEnvironment({ ORDER_TIMEOUT_MS: "1000" }).orderTimeoutMs).toBe(1000);
		expect(readEnvironment({ ORDER_TIMEOUT_MS: "2592000000" }).orderTimeoutMs).toBe(2_592_000_000);
		expect(configErrorOf({ ORDER_TIMEOUT_MS: "10" }).message).toBe("ORDER_TIMEOUT_MS='10' is not valid: expected an integer from 1000 to 2592000000.");
	});

	it("should list a service named twice once", () => {
		expect(readEnvironment({ SERVICES: "api,api,orders" }).services).toEqual(["api", "orders"]);
	});

	it("should treat a blank variable as unset", () => {
		const config = readEnvironment({ PORT: "  ", TRANSPORTER: "", SERVICES: " " });
		expect(config.port).toBe(3000);
		expect(config.transporter).toBeUndefined();
		expect(config.services).toEqual(["api", "orders", "processor"]);
	});

	it("should trace to OTEL_EXPORTER_OTLP_ENDPOINT when it is set, naming the service after the node's services", () => {
		expect(readEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", SERVICES: "api,orders", OTEL_BSP_SCHEDULE_DELAY: "200" }).tracing).toEqual({
			endpoint: "http://collector:4318",
			tracesUrl: "http://collector:4318/v1/traces",
			serviceName: "order-pipeline-api-orders",
			scheduleDelayMs: 200
		});
		expect(readEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SERVICE_NAME: "shop" }).tracing?.serviceName).toBe("shop");
		expect(configErrorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toBeInstanceOf(ConfigError);
	});

	it("should accept amqps:// as a transporter", () => {
		expect(readEnvironment({ TRANSPORTER: "amqps://rabbit:5671", CLUSTER_SECRET: KEY }).transporter).toEqual(["amqps://rabbit:5671"]);
	});

	it("should read a comma list of a RabbitMQ cluster's nodes as TRANSPORTER, and give the transporter and the dead-letter store all of them", () => {
		const config = readEnvironment({ TRANSPORTER: " amqp://u:pw@rmq-a:5672/shop , amqp://u:pw@rmq-b:5672/shop,amqp://u:pw@rmq-c/shop ", CLUSTER_SECRET: KEY });
		const urls = ["amqp://u:pw@rmq-a:5672/shop", "amqp://u:pw@rmq-b:5672/shop", "amqp://u:pw@rmq-c/shop"];
		expect(config.transporter).toEqual(urls);
		expect(serviceSettings(config).deadLetters.amqpUrl).toEqual(urls);
		// Moleculer's AMQP transporter connects to these in turn, one a connection attempt.
		const transporter = createBrokerOptions({ ...config, metricsPort: null }).transporter as unknown as { opts: { url: string[] } };
		expect(transporter.opts.url).toEqual(urls);
	});

	it("should refuse a TRANSPORTER list with a URL that is not amqp(s), or nodes of other users or vhosts, in one line without the password", () => {
		const error = (value: string) => configErrorOf({ TRANSPORTER: value, CLUSTER_SECRET: KEY }).message;
		expect(error("amqp://u:pw@a:5672,nats://u:pw@b:4222")).toBe(
			"TRANSPORTER='amqp://u:***@a:5672,nats://u:***@b:4222' is not valid: expected an amqp:// or amqps:// URL (RabbitMQ), or a comma list of them; 'nats://u:***@b:4222' is not one."
		);
		expect(error("amqp://u:pw@a/shop,amqp://u:pw@b/other")).toMatch(/^TRANSPORTER='.*' is not valid: expected URLs of one RabbitMQ cluster, with the same user, password and vhost; 'amqp:\/\/u:\*\*\*@b\/other' differs/);
		expect(error("amqp://u:pw@a,amqp://u:other@b")).toMatch(/same user, password and vhost/);
		expect(error("amqp://u:pw@a,amqp://u:other@b")).not.toMatch(/pw|other@/);
		expect(error(" , ")).toBe("TRANSPORTER=',' is not valid: expected an amqp:// or amqps:// URL (RabbitMQ), or a comma list of them.");
		expect(error("amqp://")).toMatch(/^TRANSPORTER='amqp:\/\/' is not valid/);
		expect(error("amqp://a,amqp://a;amqp://b")).toMatch(/is not valid/);
	});

	it.each([
		["PORT", "abc"],
		["PORT", "70000"],
		["PORT", "80.5"],
		["METRICS_PORT", "on"],
		["SERVICES", "api,billing"],
		["DEMO_STOCK", "maybe"],
		["TRANSPORTER", "nats://x"],
		["RATE_LIMIT_PER_MINUTE", "-1"],
		["RETRY_MAX_ATTEMPTS", "0"],
		["LOG_LEVEL", "verbose"],
		["ORDERS_DATABASE_URL", "mysql://db/orders"],
		["PROCESSOR_DATABASE_URL", "not a url"],
		["HOST", "0.0.0.0; rm -rf"],
		["CORS_ORIGINS", "https://shop.example.com/path"],
		["ORDER_TIMEOUT_MS", "999"],
		["ORDER_TIMEOUT_MS", "2592000001"],
		["ORDER_TIMEOUT_MS", "5 min"]
	])("should refuse %s=%s with an error naming the variable", (variable, value) => {
		const error = configErrorOf({ [variable]: value });
		expect(error).toBeInstanceOf(ConfigError);
		expect(error.name).toBe("ConfigError");
		expect(error.message).toContain(`${variable}='${value}'`);
	});

	it("should name the log levels it knows, instead of starting a server that logs nothing", () => {
		expect(configErrorOf({ LOG_LEVEL: "verbose" }).message).toBe(
			"LOG_LEVEL='verbose' is not valid: expected one of fatal, error, warn, info, debug, trace."
		);
	});

	it("should accept only PostgreSQL database URLs, and never print their password", () => {
		expect(readEnvironment({ ORDERS_DATABASE_URL: "postgresql://u:p@db/orders" }).ordersDatabaseUrl).toBe("postgresql://u:p@db/orders");
		const error = configErrorOf({ ORDERS_DATABASE_URL: "mysql://root:secret@db:3306/orders" });
		expect(error.message).toBe(
			"ORDERS_DATABASE_URL='mysql://root:***@db:3306/orders' is not valid: expected a postgres:// or postgresql:// URL: the services store their data in PostgreSQL only."
		);
		expect(configErrorOf({ TRANSPORTER: "nats://u:pw@x:4222" }).message).not.toContain("pw");
	});

	it("should read bind addresses and the CORS origins", () => {
		const config = readEnvironment({ HOST: "127.0.0.1", METRICS_HOST: "::", CORS_ORIGINS: "https://shop.example.com, http://localhost:8080" });
		expect(config).toMatchObject({ host: "127.0.0.1", metricsHost: "::", corsOrigins: ["https://shop.example.com", "http://localhost:8080"] });
		expect(serviceSettings(config).api).toMatchObject({ ip: "127.0.0.1", corsOrigins: ["https://shop.example.com", "http://localhost:8080"] });
	});

	it("should say what a bad port should be", () => {
		expect(configErrorOf({ PORT: "abc" }).message).toBe("PORT='abc' is not valid: expected an integer from 0 to 65535.");
	});

	it("should list the known services when one is unknown", () => {
		expect(configErrorOf({ SERVICES: "api,billing" }).message).toContain("api, orders, processor");
	});

	it("should read DEMO_STOCK spelled in several ways", () => {
		expect(readEnvironment({ DEMO_STOCK: "TRUE" }).demoStock).toBe(true);
		expect(readEnvironment({ DEMO_STOCK: "1" }).demoStock).toBe(true);
		expect(readEnvironment({ DEMO_STOCK: "yes" }).demoStock).toBe(true);
		expect(readEnvironment({ DEMO_STOCK: "False" }).demoStock).toBe(false);
		expect(readEnvironment({ DEMO_STOCK: "0" }).demoStock).toBe(false);
	});
});

describe("Test 'createBrokerOptions'", () => {
	it("should give the REPL the dead-letter commands and the history command", () => {
		const commands = (createBrokerOptions(readEnvironment({})).replOptions as { customCommands: Array<{ command: string }> }).customCommands;
		expect(commands.map(c => c.command)).toEqual(expect.arrayContaining(["dlq [event]", "history <orderId>"]));
	});

	it("should disable the built-in balancer when a transporter is set", () => {
		const options = createBrokerOptions(readEnvironment({ TRANSPORTER: "amqp://localhost:5672", CLUSTER_SECRET: KEY }));
		expect(options.disableBalancer).toBe(true);
		expect(options.transporter).toBeInstanceOf(ReliableAmqpTransporter);
	});

	it("should keep the built-in balancer and no transporter without one", () => {
		const options = createBrokerOptions(readEnvironment({}));
		expect(options.disableBalancer).toBe(false);
		expect(options.transporter).toBeUndefined();
	});

	it("should trace actions and events with the OpenTelemetry middleware only when tracing is on, never with Moleculer's tracer", () => {
		const names = (env: Record<string, string>) =>
			(createBrokerOptions(readEnvironment(env)).middlewares as Array<(broker: unknown) => { name?: string }>).map(mw => mw({ nodeID: "n" }).name);
		expect(names({})).not.toContain("OpenTelemetryTracing");
		expect(names({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toContain("OpenTelemetryTracing");
		expect(createBrokerOptions(readEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).tracing).toBeUndefined();
	});

	it("should carry node id, namespace and the ajv validator", () => {
		const options = createBrokerOptions(readEnvironment({ NODEID: "n-1", NAMESPACE: "ns" }));
		expect(options.nodeID).toBe("n-1");
		expect(options.namespace).toBe("ns");
		expect(options.validator).toBeInstanceOf(AjvValidator);
	});

	it("should log at the configured level", () => {
		const options = createBrokerOptions(readEnvironment({ LOG_LEVEL: "warn" }));
		expect(options.logger).toBeInstanceOf(LineLogger);
		expect((options.logger as LineLogger).getLogLevel("orders")).toBe("warn");
	});

	it("should log JSON lines unless stdout is a terminal, and readable lines with colours at one", () => {
		expect(readEnvironment({}, false)).toMatchObject({ logFormat: "json", logColors: false });
		expect(readEnvironment({}, true)).toMatchObject({ logFormat: "pretty", logColors: true });
		expect(readEnvironment({ LOG_FORMAT: "json" }, true)).toMatchObject({ logFormat: "json", logColors: false });
		expect(readEnvironment({ LOG_FORMAT: "pretty" }, false)).toMatchObject({ logFormat: "pretty", logColors: false });
	});

	it("should refuse a LOG_FORMAT other than pretty or json, naming the variable", () => {
		expect(configErrorOf({ LOG_FORMAT: "text" }).message).toBe("LOG_FORMAT='text' is not valid: expected one of pretty, json.");
	});

	it("should serve Prometheus metrics on the metrics port", () => {
		const options = createBrokerOptions(readEnvironment({ METRICS_PORT: "9100" }));
		expect(options.metrics).toEqual({ enabled: true, collectProcessMetrics: true, reporter: [expect.any(PrometheusReporter)] });
		const [reporter] = (options.metrics as unknown as { reporter: Array<{ opts: object }> }).reporter;
		expect(reporter.opts).toMatchObject({ port: 9100, host: "127.0.0.1", path: "/metrics", excludes: HOST_DETAIL_METRICS });
	});

	it("should bind the metrics endpoint to METRICS_HOST", () => {
		const options = createBrokerOptions(readEnvironment({ METRICS_HOST: "0.0.0.0" }));
		expect((options.metrics as unknown as { reporter: Array<{ opts: { host: string } }> }).reporter[0].opts.host).toBe("0.0.0.0");
	});

	it("should register the business metrics on every broker, whatever services it runs", () => {
		expect(createBrokerOptions(readEnvironment({})).middlewares).toContain(BusinessMetricsMiddleware);
	});

	it("should leave out the metrics that tell the host name, the user, the network and the command line", () => {
		expect(HOST_DETAIL_METRICS).toEqual(
			expect.arrayContaining(["os.hostname", "os.user.*", "os.network.*", "process.arguments"])
		);
	});

	it("should turn metrics off with METRICS_PORT=off", () => {
		expect(createBrokerOptions(readEnvironment({ METRICS_PORT: "off" })).metrics).toEqual({ enabled: false });
	});
});

describe("Test 'serviceSettings'", () => {
	it("should hand the API its port, CORS origins, token settings, trusted proxies and per-caller limit", () => {
		const settings = serviceSettings(
			readEnvironment({
				PORT: "4000",
				RATE_LIMIT_PER_MINUTE: "120",
				RATE_LIMIT_DATABASE_URL: "postgres://db/limits",
				TRUSTED_PROXIES: "10.0.0.5, ::1",
				JWT_SECRET: KEY
			})
		);
		expect(settings.api).toEqual({
			port: 4000,
			ip: "0.0.0.0",
			corsOrigins: [],
			trustedProxies: ["10.0.0.5", "::1"],
			jwt: { secret: KEY, jwksUrl: undefined, issuer: undefined, audience: undefined, clockToleranceSeconds: 30, maxTokenLifetimeSeconds: 86_400 },
			callerRateLimit: { perMinute: 120, databaseUrl: "postgres://db/limits" },
			readyMaxOutboxLagSeconds: 300
		});
		// moleculer-web would read a `rateLimit` setting as its own per-address, per-process limiter.
		expect(settings.api).not.toHaveProperty("rateLimit");
	});

	it("should hand the API the outbox lag readiness accepts", () => {
		expect(serviceSettings(readEnvironment({ READY_MAX_OUTBOX_LAG_S: "0" })).api.readyMaxOutboxLagSeconds).toBe(0);
	});

	it("should hand the orders service the Idempotency-Key lifetime", () => {
		expect(serviceSettings(readEnvironment({ IDEMPOTENCY_KEY_TTL_MS: "3600000" })).orders.idempotencyKeyTtlMs).toBe(3_600_000);
	});

	it("should keep each service's embedded database under the data directory", () => {
		const settings = serviceSettings(readEnvironment({ DATA_DIR: "/var/lib/orders" }));
		expect(settings.orders.embeddedDataDir).toBe(join("/var/lib/orders", "orders"));
		expect(settings.processor.embeddedDataDir).toBe(join("/var/lib/orders", "processor"));
	});

	it("should hand each service its own database URL and the demo stock switch", () => {
		const settings = serviceSettings(readEnvironment({
			ORDERS_DATABASE_URL: "postgres://db/orders",
			PROCESSOR_DATABASE_URL: "postgres://db/processor",
			DEMO_STOCK: "false"
		}));
		expect(settings.orders.databaseUrl).toBe("postgres://db/orders");
		expect(settings.orders.orderTimeoutMs).toBe(300_000);
		expect(settings.processor).toMatchObject({ databaseUrl: "postgres://db/processor", demoStock: false });
	});
});
