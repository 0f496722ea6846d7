/**
 * One node: the services named in `SERVICES` (all by default) on a broker configured from the
 * environment. `--repl` opens Moleculer's REPL once the node runs. bin/start.ts requires this
 * module once tracing started (lib/tracing), so that what it loads can be instrumented.
 */
import { resolve } from "node:path";
import type { REPLServer } from "node:repl";
import type { Server } from "node:http";
import { ServiceBroker } from "moleculer";
import { createBrokerOptions, readEnvironment, serviceSettings, type AppConfig } from "../moleculer.config";
import { servicesToCreate } from "../services";
import { makeSecret, mintToken } from "../lib/auth/tokens";
import { checkDataDirsFree } from "../lib/database/data-dir-lock";
import { checkCanListen, type ListenTarget } from "../lib/http/listen-check";
import { METRICS_LISTEN_VARIABLES } from "../lib/metrics/prometheus-reporter";
import { LineLogger } from "../lib/logging/line-logger";
import { logsAbovePrompt } from "../lib/repl/logs-above-prompt";

/** How long the tokens printed at a start without JWT_SECRET stay valid. */
const FIRST_RUN_TOKEN_TTL_SECONDS = 3600;

/**
 * Where a person on this machine reaches the api: the address it listens on (loopback when that is
 * every interface) and the port it got.
 */
function apiBaseUrl(broker: ServiceBroker, config: AppConfig): string {
	const server = (broker.getLocalService("api") as unknown as { server?: Server } | undefined)?.server;
	const address = server?.address();
	const port = typeof address === "object" && address ? address.port : config.port;
	const host = ["0.0.0.0", "::"].includes(config.host) ? "127.0.0.1" : config.host.includes(":") ? `[${config.host}]` : config.host;
	return `http://${host}:${port}`;
}

/** The line that tells a person where the API and its docs page are. */
const apiLine = (base: string) => `API: ${base}/api — docs: ${base}/api/docs`;

/**
 * Without JWT_SECRET or JWT_JWKS_URL the api makes a secret for this run and prints a customer and
 * an admin token to try it with, the way notebook servers print theirs.
 */
async function printFirstRunTokens(secret: string, base: string, maxTtlSeconds: number): Promise<void> {
	// JWT_MAX_TTL_S may be below an hour: a printed token the api refuses would be no help.
	const ttlSeconds = Math.min(FIRST_RUN_TOKEN_TTL_SECONDS, maxTtlSeconds);
	const customer = await mintToken(secret, { sub: "customer-1", role: "customer", ttlSeconds });
	const admin = await mintToken(secret, { sub: "admin", role: "admin", ttlSeconds });
	process.stdout.write(
		[
			"",
			"No JWT_SECRET is set: this run made its own secret. These tokens work until the process stops (at most one hour):",
			`  customer (sub customer-1): ${customer}`,
			`  admin    (sub admin):      ${admin}`,
			"Try:",
			`  curl -H 'Authorization: Bearer ${customer}' -H 'Content-Type: application/json' \\`,
			`       -d '{"items":[{"sku":"SKU-0001","quantity":1,"unitPrice":9.99}],"currency":"EUR"}' ${base}/api/orders`,
			`  curl -H 'Authorization: Bearer ${admin}' ${base}/api/admin/stock/SKU-0001`,
			apiLine(base),
			""
		].join("\n") + "\n"
	);
}

/** The folders of the embedded databases this node opens: those of its services given no database URL. */
function embeddedDataDirs(config: AppConfig, settings: ReturnType<typeof serviceSettings>): string[] {
	return (["orders", "processor"] as const)
		.filter(name => config.services.includes(name) && !settings[name].databaseUrl)
		.map(name => resolve(String(settings[name].embeddedDataDir)));
}

/** Where this node listens: the api's port, and the metrics port unless it is off. */
function listenTargets(config: AppConfig): ListenTarget[] {
	return [
		...(config.services.includes("api") ? [{ portVariable: "PORT", hostVariable: "HOST", port: config.port, host: config.host }] : []),
		...(config.metricsPort !== null ? [{ ...METRICS_LISTEN_VARIABLES, port: config.metricsPort, host: config.metricsHost }] : [])
	];
}

/** Starts the node; a rejection is a failed start, which bin/start.ts reports. */
export async function startNode(): Promise<void> {
	const config = readEnvironment(process.env);
	const runSecret = config.services.includes("api") && !config.jwt.secret && !config.jwt.jwksUrl ? makeSecret() : undefined;
	if (runSecret) Object.assign(config.jwt, { secret: runSecret, secretMadeForRun: true });
	const settings = serviceSettings(config);
	// Before the broker exists (its constructor opens the metrics port): a second start on the same
	// DATA_DIR is told so first, then a port another process holds; each as one line.
	checkDataDirsFree(embeddedDataDirs(config, settings));
	for (const target of listenTargets(config)) await checkCanListen(target);
	const options = createBrokerOptions(config);
	const broker = new ServiceBroker(options);
	for (const schema of servicesToCreate(config.services, settings)) broker.createService(schema);
	await broker.start();
	broker.logger.info(`Node started with services: ${config.services.join(", ")}.`, {
		transporter: config.transporter ? "amqp" : "none (one process)",
		port: config.services.includes("api") ? config.port : undefined
	});
	const base = config.services.includes("api") ? apiBaseUrl(broker, config) : undefined;
	if (base) broker.logger.info(apiLine(base));
	if (runSecret && base) {
		if (config.transporter) {
			broker.logger.warn("No JWT_SECRET is set: this api node made its own secret, so its tokens work on this node only. Set JWT_SECRET (the same on every api node) or JWT_JWKS_URL in a cluster.");
		}
		await printFirstRunTokens(runSecret, base, config.jwt.maxTokenLifetimeSeconds);
	}
	if (process.argv.includes("--repl")) {
		// Moleculer's typings say void; moleculer-repl returns Node's REPL server.
		const repl = broker.repl() as unknown as REPLServer;
		if (options.logger instanceof LineLogger) options.logger.output = logsAbovePrompt(repl);
	}
}
