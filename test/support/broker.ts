/**
 * A bare ServiceBroker configured as a node would be (moleculer.config.ts), for tests that bring
 * their own services: quiet, no metrics endpoint, and whatever variables the test sets.
 */
import { ServiceBroker } from "moleculer";
import { createBrokerOptions, readEnvironment } from "../../moleculer.config";
import { LOCAL_CLUSTER_SECRET } from "./services";

export function brokerWith(env: Record<string, string>): ServiceBroker {
	return new ServiceBroker(
		createBrokerOptions(readEnvironment({ METRICS_PORT: "off", CLUSTER_SECRET: LOCAL_CLUSTER_SECRET, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "fatal", ...env }))
	);
}
