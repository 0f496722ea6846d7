import type { Channel, ChannelModel, ConsumeMessage, Options } from "amqplib";

/**
 * The channel balanced requests (an action's shared queue, `<prefix>.REQB.<action>`) are consumed
 * on, with a prefetch of its own (REQUEST_PREFETCH).
 *
 * A request is acknowledged when its action has answered, so the prefetch is how many requests of
 * one action a node runs at once. On the shared channel that was the event prefetch (16): a node
 * with one slow or stuck call kept taking new requests while the others idled. With a small
 * prefetch here RabbitMQ hands a request only to a node that has a free slot: requests go by
 * availability. Events keep their own, larger prefetch (the processor batches what it holds).
 */

/** Requests of one action a node holds unacknowledged (runs) at once, unless told otherwise (REQUEST_PREFETCH). */
export const DEFAULT_REQUEST_PREFETCH = 1;

/** Moleculer's packet type of a request. */
const PACKET_REQUEST = "REQ";

/** What the request channel needs of its transporter. */
export interface RequestHost {
	readonly logger: { warn(...args: unknown[]): void; error(...args: unknown[]): void };
	/** Moleculer's receive path; resolves once the request was answered. */
	receive(cmd: string, data: Buffer): unknown;
}

export class RequestChannel {
	private channel: Channel | null = null;
	/** Queues consumed on the current channel: Moleculer subscribes again on every local service change. */
	private readonly consumed = new Set<string>();
	private closing = false;
	/** Consumers being set up: events wait for them (see `settled`). */
	private readonly pending = new Set<Promise<void>>();

	constructor(
		private readonly host: RequestHost,
		readonly prefetch: number
	) {}

	/** Opens the channel on a new connection; the consumers of an earlier one are gone with it. */
	async open(connection: ChannelModel): Promise<void> {
		this.closing = false;
		this.consumed.clear();
		const channel = await connection.createChannel();
		await channel.prefetch(this.prefetch);
		channel.on("error", (err: Error) => this.host.logger.error("AMQP request channel error.", err));
		channel.on("close", () => {
			if (this.channel !== channel) return;
			this.channel = null;
			this.consumed.clear();
			// A lost connection opens a new channel in onConnected; a channel error alone does not.
			if (!this.closing) this.host.logger.warn("AMQP request channel is closed; requests are consumed again after the next reconnection.");
		});
		this.channel = channel;
	}

	/** Consumes an action's shared queue (once per channel), acknowledging each request once it was answered. */
	async consume(queue: string, queueOptions: Options.AssertQueue, consumeOptions: Options.Consume = {}): Promise<void> {
		const channel = this.channel;
		if (!channel || this.consumed.has(queue)) return;
		this.consumed.add(queue);
		const starting = (async () => {
			await channel.assertQueue(queue, queueOptions);
			await channel.consume(queue, msg => msg && this.handle(channel, msg), { ...consumeOptions, noAck: false });
		})();
		this.pending.add(starting);
		try {
			await starting;
		} catch (err) {
			this.consumed.delete(queue);
			throw err;
		} finally {
			this.pending.delete(starting);
		}
	}

	/**
	 * Resolves once the consumers being set up are (or failed). On one channel, as Moleculer had
	 * them, a node's request queues were consumed before its event queues; on two channels the
	 * event consumers wait for this, so that a node that handles events answers calls too.
	 */
	async settled(): Promise<void> {
		await Promise.allSettled([...this.pending]);
	}

	/** Closes the channel: requests taken and not answered yet go back to their queues. */
	async close(): Promise<void> {
		this.closing = true;
		const channel = this.channel;
		this.channel = null;
		this.consumed.clear();
		await channel?.close().catch(() => undefined);
	}

	private handle(channel: Channel, msg: ConsumeMessage): void {
		// As Moleculer's own consumer does: acknowledged once answered, requeued when handling threw.
		Promise.resolve()
			.then(() => this.host.receive(PACKET_REQUEST, msg.content))
			.then(
				() => safely(() => channel.ack(msg)),
				(err: unknown) => {
					this.host.logger.error("Request handling error.", err);
					safely(() => channel.nack(msg));
				}
			);
	}
}

/** Runs an acknowledgement that may fail only because its channel is already gone (then RabbitMQ redelivers). */
function safely(fn: () => void): void {
	try {
		fn();
	} catch {
		/* the channel closed: the message is redelivered */
	}
}
