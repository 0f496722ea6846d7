import type { ChannelModel, Options } from "amqplib";
import type { Middleware, Service, ServiceBroker } from "moleculer";
import { StartupError } from "../startup-error";
import { QUEUE_TYPES, eventQueueNames, eventTopology, type QueueType } from "./event-queues";

/**
 * What a node checks before its services start, when it runs the reliable AMQP transporter: a
 * configuration that would silently lose the delivery guarantees stops the start with one line
 * (a {@link StartupError}) instead.
 *
 * - Moleculer's balancer must stay off: with it on, events go to per-node queues without confirms,
 *   retries or dead letters.
 * - No balanced event handler may be a wildcard: the queues are per group and concrete event name,
 *   so `orders.**` would be consumed from a queue nobody sends to, while every matching event piles
 *   up in a durable queue nobody consumes.
 * - The queues a service's events need must exist with the type and arguments this node declares
 *   (QUEUE_TYPE): RabbitMQ refuses to redeclare a queue with others, and a node that could not
 *   consume its queues would run without processing anything.
 */

/** What the checks need of the transporter. */
export interface TopologyHost {
	readonly prefix: string;
	readonly deadLetterExchange: string;
	readonly queueType: QueueType;
	readonly policy: { maxAttempts: number };
	/** The open connection (the checks run once the transporter connected); null otherwise. */
	readonly connection: ChannelModel | null;
}

/** A balanced event subscription of a local service. */
export interface BalancedEvent {
	service: string;
	event: string;
	group: string;
}

/** The middleware that runs the checks; the transporter registers it on its broker. */
export function reliableBusStartChecks(host: TopologyHost): Middleware {
	return {
		name: "ReliableBusStartChecks",
		starting(broker: ServiceBroker) {
			if (!broker.options.disableBalancer) {
				throw new StartupError(
					"Moleculer's balancer is on (disableBalancer: false, from a broker option or MOL_DISABLE_BALANCER): with TRANSPORTER set, events must go to RabbitMQ's durable group queues, and with the balancer they would go to per-node queues without confirms, retries or dead letters. Remove the override."
				);
			}
		},
		async serviceStarting(service: Service) {
			const events = balancedEventsOf(service);
			const wildcard = events.find(e => isWildcard(e.event));
			if (wildcard) {
				throw new StartupError(
					`Service '${wildcard.service}' handles the wildcard event '${wildcard.event}' in group '${wildcard.group}': with TRANSPORTER set, events go to one durable queue per group and event name, so nothing would reach this handler while every matching event piled up in a queue nobody consumes. Subscribe to each event by its full name.`
				);
			}
			await checkEventQueues(host, events);
		}
	} as Middleware;
}

/** The events of a service that go through RabbitMQ's group queues (Moleculer's `$` events stay local). */
export function balancedEventsOf(service: Service): BalancedEvent[] {
	const schemaEvents = (service.schema?.events ?? {}) as Record<string, unknown>;
	return Object.entries(schemaEvents)
		.map(([key, def]) => {
			const options = typeof def === "object" && def !== null ? (def as { name?: string; group?: string }) : {};
			return { service: service.name, event: options.name ?? key, group: options.group ?? service.name };
		})
		.filter(e => !e.event.startsWith("$"));
}

/** True for a Moleculer event pattern (`*`, `**`, `?`) rather than one event's name. */
export function isWildcard(event: string): boolean {
	return /[*?]/.test(event);
}

/**
 * Declares each queue the events need with the options this node would declare it with, on a
 * channel of its own: a missing queue is made (as the consumer would make it), one that exists with
 * another type or other arguments makes RabbitMQ refuse (PRECONDITION_FAILED), and the start stops
 * with what differs and how to migrate.
 */
export async function checkEventQueues(host: TopologyHost, events: BalancedEvent[]): Promise<void> {
	if (events.length === 0 || !host.connection) return;
	const topology = (type: QueueType) =>
		events.flatMap(e => eventTopology(eventQueueNames(host.prefix, e.group, e.event), host.deadLetterExchange, host.policy.maxAttempts, type));
	const channel = await host.connection.createChannel();
	channel.on("error", () => undefined);
	try {
		for (const { queue, options } of topology(host.queueType)) {
			try {
				await channel.assertQueue(queue, options);
			} catch (err) {
				if ((err as { code?: number }).code !== 406) throw err;
				// RabbitMQ closed the channel. Is the queue the other type, declared as this node would
				// with the other QUEUE_TYPE? Then say so.
				const otherType = QUEUE_TYPES.find(type => type !== host.queueType)!;
				const asOther = topology(otherType).find(q => q.queue === queue);
				const isOther = asOther !== undefined && !(await redeclare(host.connection, queue, asOther.options));
				throw new StartupError(mismatchLine(queue, host.queueType, isOther ? otherType : undefined, err as Error));
			}
		}
	} finally {
		await channel.close().catch(() => undefined);
	}
}

/** Declares a queue on a channel of its own; the error when RabbitMQ refuses it as inequivalent (406), else undefined. */
async function redeclare(connection: ChannelModel, queue: string, options: Options.AssertQueue): Promise<Error | undefined> {
	const channel = await connection.createChannel();
	channel.on("error", () => undefined);
	try {
		await channel.assertQueue(queue, options);
		return undefined;
	} catch (err) {
		if ((err as { code?: number }).code !== 406) throw err;
		return err as Error;
	} finally {
		await channel.close().catch(() => undefined);
	}
}

/**
 * One line: which queue, what differs (its type, when it is the other type as this product declares
 * it; else what RabbitMQ says), and how to migrate.
 */
export function mismatchLine(queue: string, queueType: QueueType, actualType: QueueType | undefined, err: Error): string {
	const migrate = "Migrate it as docs/queues.md says (stop the consumers, drain or shovel its messages, delete it, start again)";
	if (actualType) {
		return `Queue '${queue}' is a ${actualType} queue, but QUEUE_TYPE=${queueType} declares it a ${queueType} queue, and RabbitMQ cannot change a queue's type. ${migrate}, or set QUEUE_TYPE=${actualType}.`;
	}
	const reason = /PRECONDITION_FAILED - ([^"]+)/.exec(err.message)?.[1]?.trim() ?? err.message;
	return `Queue '${queue}' exists with other arguments than this node declares with QUEUE_TYPE=${queueType}; RabbitMQ says: ${reason}. ${migrate}.`;
}
