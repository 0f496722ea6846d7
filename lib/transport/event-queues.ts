import type { Channel, Options } from "amqplib";

/**
 * The queues of balanced events (see reliable-amqp.ts): their names, the headers written on
 * retried and dead-lettered messages, and the topology one event group needs.
 */

/** Moleculer's packet type of an event. */
export const PACKET_EVENT = "EVENT";

export const DEAD_LETTER_EXCHANGE = "orders.dlx";

/** Message headers the transporter writes on retried and dead-lettered messages. */
export const DeliveryHeaders = {
	/** Runs since the message was first sent or last replayed; the delivery policy counts these. */
	Attempts: "x-attempts",
	/** Runs before the last replay (the dead-letter store sets it): attempts shown = prior + current. */
	PriorAttempts: "x-prior-attempts",
	/** How often the message was replayed from its dead-letter queue. */
	Replays: "x-replays",
	ReplayedAt: "x-replayed-at",
	LastError: "x-last-error",
	ErrorName: "x-error-name",
	OriginalQueue: "x-original-queue",
	DeadLetteredAt: "x-dead-lettered-at"
} as const;

/** Queue names of one event group; the main queue is the one Moleculer itself uses. */
export function eventQueueNames(prefix: string, group: string, event: string) {
	return {
		main: `${prefix}.${PACKET_EVENT}B.${group}.${event}`,
		deadLetter: `${prefix}.DLQ.${group}.${event}`,
		retry: (attempt: number) => `${prefix}.RETRY.${group}.${event}.${attempt}`
	};
}

/** The types the durable event, retry and dead-letter queues may have (QUEUE_TYPE). */
export const QUEUE_TYPES = ["classic", "quorum"] as const;
export type QueueType = (typeof QUEUE_TYPES)[number];
export const DEFAULT_QUEUE_TYPE: QueueType = "classic";

/**
 * The arguments a queue of the given type gets. A classic queue gets none (as before QUEUE_TYPE
 * existed, so existing queues stay equivalent). A quorum queue that dead-letters into another does
 * it at least once: RabbitMQ's default for quorum queues is at most once (a message is dropped when
 * its target cannot take it), and at-least-once requires `reject-publish` overflow.
 */
function typeArguments(type: QueueType, deadLetters: boolean): Record<string, string> {
	if (type === "classic") return {};
	return deadLetters
		? { "x-queue-type": "quorum", "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish" }
		: { "x-queue-type": "quorum" };
}

/**
 * What Moleculer's own queues (per-node request, response, event and discovery queues, the shared
 * request queues) are declared with on top of Moleculer's options. Moleculer declares them durable,
 * and a durable classic queue lives on one RabbitMQ node: when that node goes, the queue stays
 * behind, unusable, and a node that reconnects to another RabbitMQ node is refused it (NOT_FOUND,
 * "home node … is down") and never subscribes again. Their messages are not persistent anyway (a
 * request or a discovery packet is worth nothing after a broker restart), so with QUEUE_TYPE=quorum,
 * the setting for a RabbitMQ cluster, they are transient: RabbitMQ deletes them with their node and
 * the reconnecting node declares them afresh where it is. Classic keeps Moleculer's own (a queue
 * cannot change its durability, and single-broker deployments already have them).
 */
export function moleculerQueueOptions(type: QueueType = DEFAULT_QUEUE_TYPE): Options.AssertQueue {
	return type === "quorum" ? { durable: false } : {};
}

/** The options of an event group's main queue. */
export function mainQueueOptions(queue: string, deadLetterExchange: string, type: QueueType = DEFAULT_QUEUE_TYPE): Options.AssertQueue {
	// A message rejected without requeue (or, on a quorum queue, past its delivery limit) still
	// lands in the dead-letter queue, never nowhere.
	return {
		durable: true,
		arguments: {
			...typeArguments(type, true),
			"x-dead-letter-exchange": deadLetterExchange,
			"x-dead-letter-routing-key": queue
		}
	};
}

/** The queues one event group declares, each with the options it is declared with, main queue first. */
export function eventTopology(
	names: ReturnType<typeof eventQueueNames>,
	deadLetterExchange: string,
	maxAttempts: number,
	type: QueueType = DEFAULT_QUEUE_TYPE
): Array<{ queue: string; options: Options.AssertQueue }> {
	const queues = [
		{ queue: names.main, options: mainQueueOptions(names.main, deadLetterExchange, type) },
		// The end of the line: it dead-letters nowhere, so it needs no strategy.
		{ queue: names.deadLetter, options: { durable: true, arguments: typeArguments(type, false) } }
	];
	for (let attempt = 1; attempt < maxAttempts; attempt++) {
		// An expired message goes back to the main queue through the default exchange: the one hop
		// RabbitMQ itself makes on the normal path (every other is a publish with a confirm).
		queues.push({
			queue: names.retry(attempt),
			options: {
				durable: true,
				arguments: { ...typeArguments(type, true), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": names.main }
			}
		});
	}
	return queues;
}

/** Declares an event group's main queue, its dead-letter queue and one delay queue per retry. */
export async function declareEventTopology(
	channel: Channel,
	names: ReturnType<typeof eventQueueNames>,
	deadLetterExchange: string,
	maxAttempts: number,
	type: QueueType = DEFAULT_QUEUE_TYPE
): Promise<void> {
	const [main, ...others] = eventTopology(names, deadLetterExchange, maxAttempts, type);
	await channel.assertQueue(main.queue, main.options);
	await channel.assertExchange(deadLetterExchange, "direct", { durable: true });
	for (const { queue, options } of others) await channel.assertQueue(queue, options);
	await channel.bindQueue(names.deadLetter, deadLetterExchange, names.main);
}
