/**
 * Whether a queue has consumers, as RabbitMQ counts them, asked at most every `ttlMs` per queue.
 *
 * A node killed with -9 stays in Moleculer's registry until its heartbeats time out (about 25 s),
 * but RabbitMQ drops its consumers the moment its connection closes: an action's shared queue with
 * no consumer tells at once that no node is there to take a request.
 */
import type { Channel, ChannelModel } from "amqplib";

interface Known {
	consumers: number;
	at: number;
}

export class QueueConsumers {
	private channel: Promise<Channel> | null = null;
	private readonly known = new Map<string, Known>();
	private readonly asking = new Map<string, Promise<number>>();

	constructor(
		private readonly connection: () => ChannelModel | null,
		private readonly ttlMs = 500,
		private readonly now: () => number = Date.now
	) {}

	/**
	 * False when RabbitMQ says the queue has no consumer (or does not exist); true when it has one,
	 * and when RabbitMQ could not be asked: then the request goes, and its timeout decides.
	 */
	async hasConsumers(queue: string): Promise<boolean> {
		const known = this.known.get(queue);
		if (known && this.now() - known.at < this.ttlMs) return known.consumers > 0;
		let asking = this.asking.get(queue);
		if (!asking) {
			asking = this.ask(queue).finally(() => this.asking.delete(queue));
			this.asking.set(queue, asking);
		}
		return (await asking) !== 0;
	}

	/** Forgets every count and the channel (a new connection). */
	reset(): void {
		this.known.clear();
		this.channel = null;
	}

	/** The queue's consumer count; -1 when it could not be read. */
	private async ask(queue: string): Promise<number> {
		let channel: Channel;
		try {
			channel = await this.openChannel();
		} catch {
			return -1;
		}
		try {
			const { consumerCount } = await channel.checkQueue(queue);
			this.known.set(queue, { consumers: consumerCount, at: this.now() });
			return consumerCount;
		} catch (err) {
			// RabbitMQ closes a channel that asked for a queue it does not have.
			this.channel = null;
			if ((err as { code?: number }).code !== 404) return -1;
			this.known.set(queue, { consumers: 0, at: this.now() });
			return 0;
		}
	}

	private openChannel(): Promise<Channel> {
		if (!this.channel) {
			const connection = this.connection();
			if (!connection) return Promise.reject(new Error("no connection"));
			const opening = connection.createChannel().then(channel => {
				channel.on("error", () => undefined);
				channel.on("close", () => {
					if (this.channel === opening) this.channel = null;
				});
				return channel;
			});
			opening.catch(() => {
				if (this.channel === opening) this.channel = null;
			});
			this.channel = opening;
		}
		return this.channel;
	}
}
