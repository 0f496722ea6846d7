/**
 * What the api logs while it starts: moleculer-web's route table, without the empty line it writes
 * after each route.
 */
import { ServiceBroker } from "moleculer";
import { createBrokerOptions, readEnvironment, serviceSettings } from "../../moleculer.config";
import type { LineLogger } from "../../lib/logging/line-logger";
import { servicesToCreate } from "../../services";
import { TEST_JWT_SECRET } from "../support/auth";

describe("Test the api's start-up log", () => {
	const records: Array<{ logger: string; message: string }> = [];
	const config = readEnvironment({ SERVICES: "api", PORT: "0", METRICS_PORT: "off", JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: "info", LOG_FORMAT: "json" });
	const options = createBrokerOptions(config);
	(options.logger as LineLogger).output = { write: (_level, line) => records.push(JSON.parse(line)) };
	const broker = new ServiceBroker(options);

	beforeAll(async () => {
		// The api alone: it need not wait for the services its routes call.
		const [api] = servicesToCreate(["api"], serviceSettings(config));
		broker.createService({ ...api, dependencies: [] });
		await broker.start();
	});
	afterAll(async () => {
		await broker.stop();
	});

	it("should list the routes, and write no line without a message", () => {
		const api = records.filter(r => r.logger === "api");
		expect(api.map(r => r.message)).toContain("Register route to '/api'");
		expect(api.filter(r => r.message.trim() === "")).toEqual([]);
	});
});
