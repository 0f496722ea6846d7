/**
 * Starts the whole product (api, orders, processor) on one ServiceBroker, configured as
 * `moleculer.config.ts` configures a node, with the HTTP server on a free port.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { ServiceBroker, type Service } from "moleculer";
import request from "supertest";
import type TestAgent from "supertest/lib/agent";
import type { Role } from "../../lib/auth/caller";
import { useClock, type Clock } from "../../lib/clock";
import { TEST_JWT_SECRET, bearer, tokenFor } from "./auth";
import { createBrokerOptions, readEnvironment, serviceSettings, type ServiceName } from "../../moleculer.config";
import { servicesToCreate } from "../../services";
import { LOCAL_CLUSTER_SECRET, uniqueSuffix } from "./services";
import { seedEmbeddedDatabases } from "./pglite-template";

export interface SystemOptions {
	/** Environment as a node would see it; databases default to embedded PGlite in a temp dir. */
	env?: Record<string, string>;
	services?: ServiceName[];
	/** Changes to the services' settings that no variable makes, e.g. the shorter timeouts of a test. */
	adjustSettings?: (settings: ReturnType<typeof serviceSettings>) => void;
	/** The clock of the node's services (lib/clock.ts), e.g. a ManualClock; the system's by default. */
	clock?: Clock;
}

export interface RunningSystem {
	broker: ServiceBroker;
	baseUrl: string;
	/** `http://127.0.0.1:<port>` of the node's metrics server (/metrics, /health/*); undefined with METRICS_PORT=off. */
	metricsBaseUrl?: string;
	server: Server;
	service(name: ServiceName): Service;
	/** `Authorization` header value of the admin's token, for clients other than {@link http}. */
	adminAuthorization: string;
	/** An HTTP client of the api that sends an admin's token (role `admin`, sub `admin-1`). */
	http(): TestAgent;
	/** An HTTP client of the api that sends a token of `sub` with `role`. */
	httpAs(sub: string, role?: Role): Promise<TestAgent>;
	/** An HTTP client of the api that sends no token. */
	anonymous(): TestAgent;
	stop(): Promise<void>;
}

export async function startSystem(options: SystemOptions = {}): Promise<RunningSystem> {
	const dataDir = mkdtempSync(join(tmpdir(), "order-pipeline-"));
	await seedEmbeddedDatabases(dataDir);
	const config = readEnvironment({
		NAMESPACE: `t${uniqueSuffix()}`,
		PORT: "0",
		METRICS_PORT: "off",
		CLUSTER_SECRET: LOCAL_CLUSTER_SECRET,
		RATE_LIMIT_PER_MINUTE: "0",
		JWT_SECRET: TEST_JWT_SECRET,
		LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "fatal",
		DATA_DIR: dataDir,
		...options.env
	});
	const names = options.services ?? config.services;
	const broker = new ServiceBroker(createBrokerOptions(config));
	if (options.clock) useClock(broker, options.clock);
	const settings = serviceSettings(config);
	options.adjustSettings?.(settings);
	for (const schema of servicesToCreate(names, settings)) broker.createService(schema);
	await broker.start();

	const api = names.includes("api") ? broker.getLocalService("api") : undefined;
	const server = (api as (Service & { server?: Server }) | undefined)?.server as Server;
	const port = server ? (server.address() as AddressInfo).port : 0;
	const reporter = (broker.metrics as unknown as { reporter?: Array<{ server?: Server }> }).reporter?.[0];
	if (reporter?.server && !reporter.server.listening) await once(reporter.server, "listening");
	const metricsBaseUrl = reporter?.server ? `http://127.0.0.1:${(reporter.server.address() as AddressInfo).port}` : undefined;
	const adminToken = await tokenFor("admin-1", "admin");
	const agentWith = (token: string) => request.agent(server).set("Authorization", bearer(token));
	return {
		broker,
		server,
		baseUrl: `http://127.0.0.1:${port}`,
		metricsBaseUrl,
		service: name => broker.getLocalService(name) as Service,
		adminAuthorization: bearer(adminToken),
		http: () => agentWith(adminToken),
		httpAs: async (sub, role = "customer") => agentWith(await tokenFor(sub, role)),
		anonymous: () => request.agent(server),
		async stop() {
			await broker.stop();
			rmSync(dataDir, { recursive: true, force: true });
		}
	};
}
