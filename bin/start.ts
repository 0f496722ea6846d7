/**
 * Starts one node: the services named in `SERVICES` (all by default) on a broker configured from the
 * environment. `--repl` opens Moleculer's REPL once the node runs.
 */
import { ServiceBroker } from "moleculer";
import { createBrokerOptions, readEnvironment, serviceSettings } from "../moleculer.config";
import { isStartupError } from "../lib/startup-error";
import { servicesToCreate } from "../services";

async function main(): Promise<void> {
	const config = readEnvironment(process.env);
	const broker = new ServiceBroker(createBrokerOptions(config));
	const settings = serviceSettings(config);
	for (const schema of servicesToCreate(config.services, settings)) broker.createService(schema);
	await broker.start();
	broker.logger.info(`Node started with services: ${config.services.join(", ")}.`, {
		transporter: config.transporter ? "amqp" : "none (one process)",
		port: config.services.includes("api") ? config.port : undefined
	});
	if (process.argv.includes("--repl")) await broker.repl();
}

main().catch(err => {
	// The broker's logger may not exist yet: this is the one place that writes to stderr itself.
	const message = isStartupError(err) ? err.message : `Start failed: ${(err as Error)?.stack ?? err}`;
	process.stderr.write(JSON.stringify({ timestamp: new Date().toISOString(), level: "fatal", logger: "start", message }) + "\n");
	process.exit(1);
});
