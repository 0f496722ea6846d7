/**
 * Starts the whole product (api, orders, processor) on one ServiceBroker, configured as
 * `moleculer.config.ts` configures a node, with the HTTP server on a free port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { ServiceBroker, type Service } from "moleculer";
import { createBrokerOptions, readEnvironment, serviceSettings, type ServiceName } from "../../moleculer.config";
import { servicesToCreate } from "../../services";
import { uniqueSuffix } from "./services";

export interface SystemOptions {
	/** Environment as a node would see it; databases default to embedded PGlite in a temp dir. */
	env?: Record<string, string>;
	services?: ServiceName[];
}

export interface RunningSystem {
	broker: ServiceBroker;
	baseUrl: string;
	server: Server;
	service(name: ServiceName): Service;
	stop(): Promise<void>;
}

export async function startSystem(options: SystemOptions = {}): Promise<RunningSystem> {
	const dataDir = mkdtempSync(join(tmpdir(), "order-pipeline-"));
	const config = readEnvironment({
		NAMESPACE: `t${uniqueSuffix()}`,
		PORT: "0",
		METRICS_PORT: "off",
		RATE_LIMIT_PER_MINUTE: "0",
		LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "fatal",
		DATA_DIR: dataDir,
		...options.env
	});
	const names = options.services ?? config.services;
	const broker = new ServiceBroker(createBrokerOptions(config));
	const settings = serviceSettings(config);
	for (const schema of servicesToCreate(names, settings)) broker.createService(schema);
	await broker.start();

	const api = names.includes("api") ? broker.getLocalService("api") : undefined;
	const server = (api as (Service & { server?: Server }) | undefined)?.server as Server;
	const port = server ? (server.address() as AddressInfo).port : 0;
	return {
		broker,
		server,
		baseUrl: `http://127.0.0.1:${port}`,
		service: name => broker.getLocalService(name) as Service,
		async stop() {
			await broker.stop();
			rmSync(dataDir, { recursive: true, force: true });
		}
	};
}
