import { randomUUID } from "node:crypto";
import { Errors, type ServiceBroker } from "moleculer";
import type { Channel, ConfirmChannel, ConsumeMessage, Message, Options } from "amqplib";
import { decideDelivery, type DeliveryPolicy } from "./delivery-policy";
import { DeliveryHeaders, eventQueueNames, type QueueType } from "./event-queues";
import { recordDeadLetter, recordEventRetry } from "../metrics/business-metrics";

/**
 * What becomes of a balanced event message whose handling failed (see reliable-amqp.ts): the
 * delivery policy (`delivery-policy.ts`) decides, and a retry waits its backoff in a per-attempt
 * delay queue (so retries survive a restart), a dead letter goes to the dead-letter exchange. The
 * copy is published with confirm before the original is acknowledged: at least once, never lost.
 */

/** A message whose handling failed on run `attempt` (since it was sent or replayed), and where it came from. */
export interface FailedMessage {
	channel: Channel;
	queue: string;
	group: string;
	event: string;
	msg: ConsumeMessage;
	attempt: number;
	error: Error;
}

/** What the settlement needs of its transporter, read when a message is settled. */
export interface SettlementHost {
	readonly policy: DeliveryPolicy;
	readonly deadLetterExchange: string;
	readonly queueType: QueueType;
	readonly prefix: string;
	readonly broker: ServiceBroker;
	readonly logger: { warn(...args: unknown[]): void; error(...args: unknown[]): void };
	/** The confirm channel every copy is published on; null while the connection is down. */
	readonly confirmChannel: ConfirmChannel | null;
}

export class EventSettlement {
	constructor(private readonly host: SettlementHost) {}

	/** Carries out the delivery policy's decision for a message that failed. */
	async settleFailure(failed: FailedMessage): Promise<void> {
		const decision = decideDelivery(failed.error, failed.attempt, this.host.policy);
		if (decision.action === "dead-letter") return this.deadLetter(failed);
		return this.scheduleRetry(failed, decision.delayMs);
	}

	/**
	 * Gives back a message this node took but did not process (it is stopping). On a quorum queue a
	 * requeue counts as a delivery against the queue's delivery limit (20 by default from RabbitMQ 4
	 * on), and a message given back on every restart would in the end be dead-lettered unprocessed:
	 * there a copy goes to the back of the queue, with a confirm, and the original is acknowledged.
	 */
	async giveBack(channel: Channel, queue: string, msg: Message): Promise<void> {
		if (this.host.queueType !== "quorum") return safely(() => channel.nack(msg, false, true));
		const { "x-death": _death, "x-delivery-count": _count, ...headers } = msg.properties.headers ?? {};
		await this.forward(channel, msg, queue, "", { headers });
	}

	private async scheduleRetry({ channel, queue, group, event, msg, attempt, error }: FailedMessage, delay: number): Promise<void> {
		const retryQueue = eventQueueNames(this.host.prefix, group, event).retry(attempt);
		this.host.logger.warn(`Event '${event}' failed in group '${group}'; retry ${attempt} in ${delay} ms.`, {
			queue,
			attempt,
			error: error.message
		});
		const forwarded = await this.forward(channel, msg, retryQueue, "", {
			expiration: String(delay),
			headers: { ...failureHeaders(msg, attempt, error, queue) }
		});
		if (forwarded) recordEventRetry(this.host.broker, event, group);
	}

	private async deadLetter({ channel, queue, group, event, msg, attempt, error }: FailedMessage): Promise<void> {
		// Runs before a replay count too: the operator sees how often it failed in all.
		const attempts = attempt + Number(msg.properties.headers?.[DeliveryHeaders.PriorAttempts] ?? 0);
		this.host.logger.error(`Message of queue '${queue}' is dead-lettered after ${attempts} attempt(s).`, {
			queue,
			attempts,
			error: error.message
		});
		const forwarded = await this.forward(channel, msg, queue, this.host.deadLetterExchange, {
			headers: {
				...failureHeaders(msg, attempt, error, queue),
				[DeliveryHeaders.DeadLetteredAt]: new Date().toISOString()
			}
		});
		if (forwarded) recordDeadLetter(this.host.broker, event, group, error);
	}

	/**
	 * Publishes a copy of `msg` with confirm, then acknowledges the original: at least once, never
	 * lost. False when the copy could not be sent and the original went back to its queue.
	 */
	private async forward(
		channel: Channel,
		msg: Message,
		routingKey: string,
		exchange: string,
		options: Options.Publish
	): Promise<boolean> {
		const confirmChannel = this.host.confirmChannel;
		try {
			if (!confirmChannel) throw new Errors.BrokerDisconnectedError("The AMQP connection is down.");
			await confirmedPublish(confirmChannel, exchange, routingKey, msg.content, {
				// A dead letter needs an id to be inspected, replayed or purged by.
				messageId: msg.properties.messageId ?? randomUUID(),
				contentType: msg.properties.contentType,
				...options
			});
		} catch (err) {
			this.host.logger.warn("Unable to forward a failed message; it goes back to its queue.", err);
			safely(() => channel.nack(msg, false, true));
			return false;
		}
		safely(() => channel.ack(msg));
		return true;
	}
}

function failureHeaders(msg: Message, attempt: number, error: Error, queue: string) {
	const { "x-death": _death, ...headers } = msg.properties.headers ?? {};
	return {
		...headers,
		[DeliveryHeaders.Attempts]: attempt,
		[DeliveryHeaders.LastError]: error.message.slice(0, 2000),
		[DeliveryHeaders.ErrorName]: error.name,
		[DeliveryHeaders.OriginalQueue]: queue
	};
}

/** Publishes a persistent message and resolves when RabbitMQ confirmed it. */
export function confirmedPublish(
	channel: ConfirmChannel,
	exchange: string,
	routingKey: string,
	data: Buffer,
	options: Options.Publish
): Promise<void> {
	return new Promise((resolve, reject) => {
		try {
			channel.publish(
				exchange,
				routingKey,
				data,
				{ persistent: true, contentType: "application/json", ...options },
				err => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve())
			);
		} catch (err) {
			reject(err);
		}
	});
}

/** Runs an acknowledgement that may fail only because its channel is already gone (then RabbitMQ redelivers). */
function safely(fn: () => void): void {
	try {
		fn();
	} catch {
		/* the channel closed: the message is redelivered */
	}
}
