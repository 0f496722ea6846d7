import { createHash } from "node:crypto";
import type { Channel, ChannelModel, ConfirmChannel, GetMessage } from "amqplib";
import { Errors } from "moleculer";
import type { DeadLetterFilter, DeadLetterView } from "../contracts/dead-letters";
import { connectFirst } from "./broker-urls";
import { DeliveryHeaders, eventQueueNames } from "./event-queues";
import type { PacketGuard } from "./packet-guard";
import { packetBytes } from "./packet-signing";

export const ERR_DEAD_LETTER_NOT_REPLAYABLE = "DEAD_LETTER_NOT_REPLAYABLE";

/** A dead letter whose signature does not verify: no node of this cluster sent it, so it is never replayed (409). */
export class DeadLetterNotReplayableError extends Errors.MoleculerClientError {
	constructor(id: string) {
		super(
			`Dead letter '${id}' is not signed with the cluster key (CLUSTER_SECRET, or CLUSTER_SECRET_PREVIOUS during a rotation): a process without the key sent it, so it is not replayed. Inspect it, then purge it with DELETE /api/admin/dead-letters/${id}.`,
			409,
			ERR_DEAD_LETTER_NOT_REPLAYABLE,
			{ id }
		);
	}
}

/** One event group whose dead-letter queue the store works on. */
export interface DeadLetterQueue {
	event: string;
	group: string;
}

/** Reads the event payload out of a Moleculer packet; `null` when the body is not one. */
function parsePacket(content: Buffer): { data?: Record<string, unknown>; meta?: Record<string, unknown> } | null {
	try {
		// Shown whether or not it is signed: an operator must see what a forged message carried.
		const packet = JSON.parse(packetBytes(content).toString("utf8"));
		return packet && typeof packet === "object" ? packet : null;
	} catch {
		return null;
	}
}

/** A stable id for a message that came without one (only a message dead-lettered by RabbitMQ itself). */
function contentId(content: Buffer): string {
	return createHash("sha256").update(content).digest("hex").slice(0, 32);
}

/** Reads a header as a whole number; absent or garbled counts as 0. */
function countHeader(value: unknown): number {
	const n = Number(value ?? 0);
	return Number.isFinite(n) ? n : 0;
}

/** What the admin API and the REPL show of one message of a dead-letter queue. */
export function toDeadLetterView(msg: GetMessage, queue: DeadLetterQueue & { main: string }): DeadLetterView {
	const headers = msg.properties.headers ?? {};
	const packet = parsePacket(msg.content);
	const data = packet?.data;
	return {
		id: msg.properties.messageId ? String(msg.properties.messageId) : contentId(msg.content),
		event: queue.event,
		group: queue.group,
		queue: queue.main,
		attempts: countHeader(headers[DeliveryHeaders.PriorAttempts]) + countHeader(headers[DeliveryHeaders.Attempts]),
		replays: countHeader(headers[DeliveryHeaders.Replays]),
		error: headers[DeliveryHeaders.LastError] != null ? String(headers[DeliveryHeaders.LastError]) : null,
		errorName: headers[DeliveryHeaders.ErrorName] != null ? String(headers[DeliveryHeaders.ErrorName]) : null,
		deadLetteredAt: headers[DeliveryHeaders.DeadLetteredAt] != null ? String(headers[DeliveryHeaders.DeadLetteredAt]) : null,
		orderId: typeof data?.orderId === "string" ? data.orderId : null,
		correlationId:
			typeof data?.correlationId === "string"
				? data.correlationId
				: typeof packet?.meta?.correlationId === "string"
					? packet.meta.correlationId
					: null,
		payload: data !== undefined ? data : packetBytes(msg.content).toString("utf8")
	};
}

/** True when the dead letter passes every condition of the filter. */
export function matches(view: DeadLetterView, filter: DeadLetterFilter): boolean {
	if (filter.id && view.id !== filter.id) return false;
	if (filter.event && view.event !== filter.event) return false;
	if (filter.orderId && view.orderId !== filter.orderId) return false;
	if (filter.errorContains && !(view.error ?? "").toLowerCase().includes(filter.errorContains.toLowerCase())) return false;
	return true;
}

/**
 * The dead-letter queues, browsed and worked on in place: RabbitMQ is the store.
 *
 * Browsing takes messages without acknowledging them and gives back every one that is not removed,
 * so a dead letter stays where it was until it is replayed or purged. A replay publishes the message
 * to its main queue (with a confirm) before removing it from the dead-letter queue: the normal path
 * then deduplicates it like any delivery.
 *
 * Every visit works on a snapshot: the messages the queue held when the visit began, each once. A
 * replayed message that fails again at once is dead-lettered behind that snapshot, so the visit
 * that replayed it never takes it a second time.
 */
export class DeadLetterStore {
	private connection: ChannelModel | null = null;

	constructor(
		/** The broker URLs of TRANSPORTER: the store connects to the first that answers. */
		private readonly url: string | readonly string[],
		private readonly prefix: string,
		private readonly queues: DeadLetterQueue[],
		/** Checks a letter's signature before it is replayed (the node's transporter's guard). */
		private readonly guard: PacketGuard,
		private readonly scanLimit = 10_000
	) {}

	/** Dead letters matching the filter, oldest first. */
	async list(filter: DeadLetterFilter = {}, limit = 100): Promise<DeadLetterView[]> {
		const found: DeadLetterView[] = [];
		for (const queue of this.selectQueues(filter)) {
			if (found.length >= limit) break;
			await this.scan(queue, view => {
				if (matches(view, filter)) found.push(view);
				return found.length >= limit ? "stop" : "keep";
			});
		}
		return found;
	}

	/** One dead letter, or `null`. */
	async get(id: string): Promise<DeadLetterView | null> {
		const [hit] = await this.list({ id }, 1);
		return hit ?? null;
	}

	/**
	 * Sends the dead letters matching the filter back to their main queues; returns them as they
	 * were. The replayed run gets the full retry budget again (`x-attempts` 0); the runs so far are
	 * kept in `x-prior-attempts`, so the attempts shown keep growing across replays.
	 *
	 * A letter whose signature does not verify under the cluster key is never replayed: replaying
	 * one by id is a {@link DeadLetterNotReplayableError}; a filter leaves such letters where they are.
	 */
	async replay(filter: DeadLetterFilter = {}): Promise<DeadLetterView[]> {
		return this.take(filter, async (channel, msg, view) => {
			const content = this.guard.reseal("EVENT", msg.content);
			if (!content) {
				if (filter.id) throw new DeadLetterNotReplayableError(view.id);
				return "keep";
			}
			const { [DeliveryHeaders.DeadLetteredAt]: _at, "x-death": _death, ...headers } = msg.properties.headers ?? {};
			await publishConfirmed(channel, view.queue, msg, content, {
				...headers,
				[DeliveryHeaders.Attempts]: 0,
				[DeliveryHeaders.PriorAttempts]: view.attempts,
				[DeliveryHeaders.Replays]: view.replays + 1,
				[DeliveryHeaders.ReplayedAt]: new Date().toISOString()
			});
			return "remove";
		});
	}

	/** Deletes the dead letters matching the filter; returns them. */
	async purge(filter: DeadLetterFilter = {}): Promise<DeadLetterView[]> {
		return this.take(filter, async () => "remove");
	}

	/** How many messages each dead-letter queue holds (0 for one not declared yet), as RabbitMQ counts them. */
	async depth(): Promise<Array<DeadLetterQueue & { count: number }>> {
		const connection = await this.connect();
		const depths: Array<DeadLetterQueue & { count: number }> = [];
		let channel: Channel | null = null;
		try {
			for (const queue of this.selectQueues({})) {
				if (!channel) {
					channel = await connection.createChannel();
					channel.on("error", () => undefined);
				}
				try {
					const ok = await channel.checkQueue(queue.deadLetter);
					depths.push({ event: queue.event, group: queue.group, count: ok.messageCount });
				} catch {
					// Not declared yet (no consumer ever subscribed): nothing was dead-lettered. RabbitMQ closed the channel.
					channel = null;
					depths.push({ event: queue.event, group: queue.group, count: 0 });
				}
			}
		} finally {
			await channel?.close().catch(() => undefined);
		}
		return depths;
	}

	async close(): Promise<void> {
		const connection = this.connection;
		this.connection = null;
		await connection?.close().catch(() => undefined);
	}

	private selectQueues(filter: DeadLetterFilter) {
		return this.queues
			.filter(q => !filter.event || q.event === filter.event)
			.map(q => {
				const names = eventQueueNames(this.prefix, q.group, q.event);
				return { ...q, main: names.main, deadLetter: names.deadLetter };
			});
	}

	/** Removes the matching messages after `work` succeeded for each; the others stay. */
	private async take(
		filter: DeadLetterFilter,
		work: (channel: ConfirmChannel, msg: GetMessage, view: DeadLetterView) => Promise<"remove" | "keep">
	): Promise<DeadLetterView[]> {
		const taken: DeadLetterView[] = [];
		for (const queue of this.selectQueues(filter)) {
			await this.scan(queue, async (view, msg, channel) => {
				if (!matches(view, filter)) return "keep";
				if ((await work(channel, msg, view)) === "keep") return "keep";
				taken.push(view);
				return "remove";
			});
			// An id names one dead letter: once it is taken, the other queues need no visit.
			if (filter.id && taken.length > 0) break;
		}
		return taken;
	}

	/**
	 * Visits the messages a dead-letter queue holds when the visit begins, in order, each once: it
	 * takes at most the count RabbitMQ reports at the start, and skips an id it already saw (a
	 * message dead-lettered again while the visit runs). A removed message is acknowledged; every
	 * other one stays in the queue, in its place:
	 * - a classic queue gets it back when the visit's channel closes (unacknowledged);
	 * - a quorum queue would count that as a delivery, and drop the message past its delivery limit
	 *   (20 by default from RabbitMQ 4 on; a dead-letter queue dead-letters nowhere), so there each
	 *   kept message is re-published to the back of the queue with a confirm, then acknowledged, and
	 *   the visit goes round the whole snapshot, so that the queue's order is the same afterwards.
	 */
	private async scan(
		queue: DeadLetterQueue & { main: string; deadLetter: string },
		visit: (view: DeadLetterView, msg: GetMessage, channel: ConfirmChannel) => "keep" | "remove" | "stop" | Promise<"keep" | "remove" | "stop">
	): Promise<void> {
		const connection = await this.connect();
		const channel = await connection.createConfirmChannel();
		channel.on("error", () => undefined);
		try {
			const snapshot = await channel.checkQueue(queue.deadLetter).then(
				ok => ok.messageCount,
				() => 0
			);
			if (snapshot === 0) return;
			const rotate = await isQuorumQueue(connection, queue.deadLetter);
			const keep = (msg: GetMessage) => (rotate ? putBack(channel, queue.deadLetter, msg) : undefined);
			const seen = new Set<string>();
			let stopped = false;
			for (let i = 0; i < Math.min(snapshot, this.scanLimit); i++) {
				const msg = await channel.get(queue.deadLetter, { noAck: false });
				if (!msg) break;
				const view = toDeadLetterView(msg, queue);
				// Seen already: dead-lettered again behind the snapshot. Left in the queue, untouched.
				if (stopped || seen.has(view.id)) {
					await keep(msg);
					continue;
				}
				seen.add(view.id);
				const decision = await visit(view, msg, channel);
				if (decision === "remove") channel.ack(msg);
				else await keep(msg);
				if (decision === "stop") {
					stopped = true;
					if (!rotate) break;
				}
			}
		} finally {
			// Closing the channel returns every unacknowledged message to its place in the queue.
			await channel.close().catch(() => undefined);
		}
	}

	private async connect(): Promise<ChannelModel> {
		if (!this.connection) {
			const connection = await connectFirst(this.url);
			connection.on("error", () => undefined);
			connection.on("close", () => {
				if (this.connection === connection) this.connection = null;
			});
			this.connection = connection;
		}
		return this.connection;
	}
}

/**
 * True for a quorum queue: redeclared as one on a channel of its own, RabbitMQ accepts only when it
 * is one (a dead-letter queue has no other arguments), and refuses (PRECONDITION_FAILED) otherwise.
 * Called only for a queue that exists, so that nothing is declared.
 */
async function isQuorumQueue(connection: ChannelModel, queue: string): Promise<boolean> {
	const probe = await connection.createChannel();
	probe.on("error", () => undefined);
	try {
		await probe.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
		return true;
	} catch {
		return false;
	} finally {
		await probe.close().catch(() => undefined);
	}
}

/** Re-publishes a kept message to the back of its queue with a confirm, then acknowledges the original. */
async function putBack(channel: ConfirmChannel, queue: string, msg: GetMessage): Promise<void> {
	const { "x-delivery-count": _count, ...headers } = msg.properties.headers ?? {};
	await publishConfirmed(channel, queue, msg, msg.content, headers);
	channel.ack(msg);
}

function publishConfirmed(channel: ConfirmChannel, queue: string, msg: GetMessage, content: Buffer, headers: Record<string, unknown>): Promise<void> {
	return new Promise((resolve, reject) => {
		channel.sendToQueue(
			queue,
			content,
			{
				persistent: true,
				messageId: msg.properties.messageId,
				contentType: msg.properties.contentType,
				headers
			},
			err => (err ? reject(err) : resolve())
		);
	});
}
