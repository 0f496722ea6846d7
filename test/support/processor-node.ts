/**
 * A node that runs only the processor (and, when asked, the dead-letter service) on the real
 * RabbitMQ and PostgreSQL, configured as `moleculer.config.ts` configures a node; and the events
 * the orders side would send it, for tests that play the orders side themselves.
 */
import { randomUUID } from "node:crypto";
import { ServiceBroker, type Service } from "moleculer";
import {
	ConsumerGroups,
	EVENT_SCHEMA_VERSION,
	Events,
	type CancellationCause,
	type OrderCancelledEvent,
	type OrderCreatedEvent,
	type OrderItem
} from "../../lib/contracts/events";
import { createBrokerOptions, readEnvironment, serviceSettings } from "../../moleculer.config";
import type { AnyServiceSchema } from "../../lib/broker/service-schema";
import DeadLettersService from "../../services/dead-letters/dead-letters.service";
import { serviceSchemas } from "../../services";
import { LOCAL_CLUSTER_SECRET, uniqueSuffix } from "./services";

export interface ProcessorNode {
	broker: ServiceBroker;
	processor: Service;
	/** Publishes an event to its consumer group's queue, as the orders' outbox relay does. */
	send(event: OrderCreatedEvent | OrderCancelledEvent): Promise<void>;
	stop(): Promise<void>;
}

/** Starts a broker with the processor (and the dead-letter service with `deadLetters`) from `env`. */
export async function startProcessorNode(env: Record<string, string>, options: { deadLetters?: boolean } = {}): Promise<ProcessorNode> {
	const config = readEnvironment({
		NAMESPACE: `p${uniqueSuffix()}`,
		NODEID: `processor-${uniqueSuffix()}`,
		SERVICES: "processor",
		METRICS_PORT: "off",
		CLUSTER_SECRET: LOCAL_CLUSTER_SECRET,
		LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "fatal",
		...env
	});
	const broker = new ServiceBroker(createBrokerOptions(config));
	const settings = serviceSettings(config);
	const deadLetters: AnyServiceSchema = DeadLettersService;
	broker.createService({ name: "processor", mixins: [serviceSchemas.processor], settings: settings.processor });
	if (options.deadLetters) broker.createService({ name: "deadLetters", mixins: [deadLetters], settings: settings.deadLetters });
	await broker.start();
	return {
		broker,
		processor: broker.getLocalService("processor") as Service,
		async send(event) {
			const name = "cause" in event ? Events.OrderCancelled : Events.OrderCreated;
			await broker.emit(name, event, { groups: [ConsumerGroups[name]], throwError: true });
		},
		stop: () => broker.stop()
	};
}

/** An `order.created` for these items, with a fresh event id. */
export function orderCreated(orderId: string, items: Array<Pick<OrderItem, "sku" | "quantity">>, correlationId = `corr-${orderId}`): OrderCreatedEvent {
	return {
		eventId: randomUUID(),
		version: EVENT_SCHEMA_VERSION,
		orderId,
		correlationId,
		occurredAt: new Date().toISOString(),
		customerId: "saga-customer",
		items: items.map(item => ({ ...item, unitPrice: 1 })),
		totalAmount: items.reduce((sum, item) => sum + item.quantity, 0),
		currency: "EUR"
	};
}

/** An `order.cancelled` of the order, with a fresh event id. */
export function orderCancelled(
	orderId: string,
	cause: CancellationCause = "cancelled",
	reason?: string,
	correlationId = `corr-${orderId}`
): OrderCancelledEvent {
	return {
		eventId: randomUUID(),
		version: EVENT_SCHEMA_VERSION,
		orderId,
		correlationId,
		occurredAt: new Date().toISOString(),
		cause,
		...(reason === undefined ? {} : { reason })
	};
}
