/**
 * An orders service alone on a test PostgreSQL database, in this process, with no transporter: for
 * tests of its SQL (the relay, the hot path's plans). Extra services (a probe consuming its events)
 * and settings come from the test.
 */
import { ServiceBroker, type ServiceSchema } from "moleculer";
import type { Sequelize } from "sequelize";
import { useClock, type Clock } from "../../lib/clock";
import { createBrokerOptions, readEnvironment, serviceSettings } from "../../moleculer.config";
import { serviceSchemas } from "../../services";
import { LOCAL_CLUSTER_SECRET, uniqueSuffix } from "./services";

export interface OrdersNode {
	broker: ServiceBroker;
	/** The orders service's Sequelize instance. */
	db: Sequelize;
}

export async function startOrdersNode(
	databaseUrl: string,
	options: { settings?: Record<string, unknown>; services?: ServiceSchema[]; clock?: Clock } = {}
): Promise<OrdersNode> {
	const config = readEnvironment({
		NAMESPACE: `t${uniqueSuffix()}`,
		METRICS_PORT: "off",
		CLUSTER_SECRET: LOCAL_CLUSTER_SECRET,
		LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "fatal",
		ORDERS_DATABASE_URL: databaseUrl
	});
	const broker = new ServiceBroker(createBrokerOptions(config));
	if (options.clock) useClock(broker, options.clock);
	broker.createService({ name: "orders", mixins: [serviceSchemas.orders], settings: { ...serviceSettings(config).orders, ...options.settings } });
	for (const service of options.services ?? []) broker.createService(service);
	await broker.start();
	return { broker, db: (broker.getLocalService("orders") as unknown as { adapter: { db: Sequelize } }).adapter.db };
}
