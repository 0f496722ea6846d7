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

/** The options of an event group's main queue. */
export function mainQueueOptions(queue: string, deadLetterExchange: string): Options.AssertQueue {
	// A message rejected without requeue still lands in the dead-letter queue, never nowhere.
	return {
		durable: true,
		arguments: {
			"x-dead-letter-exchange": deadLetterExchange,
			"x-dead-letter-routing-key": queue
		}
	};
}

/** Declares an event group's main queue, its dead-letter queue and one delay queue per retry. */
export async function declareEventTopology(
	channel: Channel,
	names: ReturnType<typeof eventQueueNames>,
	deadLetterExchange: string,
	maxAttempts: number
): Promise<void> {
	await channel.assertQueue(names.main, mainQueueOptions(names.main, deadLetterExchange));
	await channel.assertExchange(deadLetterExchange, "direct", { durable: true });
	await channel.assertQueue(names.deadLetter, { durable: true });
	await channel.bindQueue(names.deadLetter, deadLetterExchange, names.main);
	for (let attempt = 1; attempt < maxAttempts; attempt++) {
		// An expired message goes back to the main queue through the default exchange.
		await channel.assertQueue(names.retry(attempt), {
			durable: true,
			arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": names.main }
		});
	}
}
