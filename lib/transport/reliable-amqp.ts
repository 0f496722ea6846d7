import { Errors, Transporters } from "moleculer";
import type { Channel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type { DeliveryPolicy } from "./delivery-policy";
import { takeEventFailure } from "./event-failures";
import { DEAD_LETTER_EXCHANGE, DEFAULT_QUEUE_TYPE, DeliveryHeaders, PACKET_EVENT, declareEventTopology, eventQueueNames, mainQueueOptions, moleculerQueueOptions, type QueueType } from "./event-queues";
import { EventSettlement, confirmedPublish } from "./event-settlement";
import { openConfirmChannel } from "./confirm-channel";
import { recordPacketRejected } from "../metrics/business-metrics";
import { BusPacketRejectedError, PacketGuard, RefusalLog, RefusedMessage, type PacketGuardOptions } from "./packet-guard";
import { QueueConsumers } from "./queue-consumers";
import { DEFAULT_REQUEST_PREFETCH, RequestChannel } from "./request-channel";
import { reliableBusStartChecks } from "./start-checks";
import { claimedSender, type RejectionReason } from "./packet-signing";

/**
 * AMQP transporter for balanced (grouped) events that loses nothing.
 *
 * Moleculer's stock AMQP transporter sends without publisher confirms, sends non-persistent
 * messages, deletes an event queue after 2 minutes without consumers, sends to a group queue that
 * may not exist yet (RabbitMQ then drops the message) and acknowledges a message whose handler
 * failed. This subclass changes only the balanced-event path:
 *
 * - publishing asserts the group's durable queue first, sends a persistent message on a confirm
 *   channel and resolves only when RabbitMQ confirmed it;
 * - event queues never expire;
 * - a message is acknowledged only after its handler succeeded; for a failed one the delivery policy
 *   (`delivery-policy.ts`) decides and `event-settlement.ts` carries out: a retry waits its backoff
 *   in a per-attempt delay queue (so retries survive a restart), a dead letter goes to `orders.dlx`;
 *   a malformed message or a permanent error (`MoleculerClientError`, e.g. a schema violation) is
 *   dead-lettered at once.
 *
 * Every packet this node sends is signed with the cluster key, and every packet it receives is
 * checked on the one receive path all of them take, balanced events included (`receive`, which
 * Moleculer's transmit middlewares wrap): a packet that fails the check is never handled — a
 * balanced event is dead-lettered with reason `signature`, anything else is dropped — and counted
 * (`bus_packets_rejected_total`). See packet-guard.ts and docs/bus-trust.md.
 *
 * Balanced requests are consumed on a channel of their own, with a small prefetch, so that a busy
 * node takes no more of them while others are free (request-channel.ts). The event, retry and
 * dead-letter queues are classic or quorum queues (QUEUE_TYPE, event-queues.ts); a start that would
 * lose these guarantees stops with one line (start-checks.ts, docs/queues.md).
 *
 * Responses, discovery packets and Moleculer's internal `$` events keep the stock delivery behaviour.
 */

const AmqpTransporter = Transporters.AMQP;
const PACKET_REQUEST = "REQ";

export { BusPacketRejectedError, DEAD_LETTER_EXCHANGE, DeliveryHeaders, RefusedMessage, eventQueueNames };

/** Messages one event consumer holds unacknowledged at once, unless told otherwise (CONSUMER_PREFETCH). */
export const DEFAULT_CONSUMER_PREFETCH = 16;

export interface ReliableAmqpOptions {
	url?: string | string[];
	/** Messages one event consumer may hold unacknowledged at once. */
	prefetch?: number;
	/** Requests of one action a node runs at once (their own channel; see request-channel.ts). */
	requestPrefetch?: number;
	/** The type of the durable event, retry and dead-letter queues (docs/queues.md). */
	queueType?: QueueType;
	/** When a failed event is retried, and when it is dead-lettered. */
	policy: DeliveryPolicy;
	deadLetterExchange?: string;
	socketOptions?: Record<string, unknown>;
	/** The cluster key every packet is signed and checked with (CLUSTER_SECRET), and the time window. */
	signing: PacketGuardOptions;
}

/**
 * What an event consumer passes to `receive` with a message (its third argument): the event the
 * queue holds, and, once the packet was read, the packet (its failure is recorded against its data).
 */
interface EventDelivery {
	event: string;
	packet?: EventPacket;
}

interface RequestPacket {
	type: string;
	target: string | null;
	payload: { id?: string; action: string; timeout?: number | null };
}

interface EventPacket {
	type: string;
	target: string | null;
	payload: { id?: string; event: string; data: unknown; groups?: string[] };
}

export class ReliableAmqpTransporter extends AmqpTransporter {
	declare channel: Channel | null;
	declare messageHandler: (cmd: string, packet: unknown) => Promise<boolean>;
	confirmChannel: ConfirmChannel | null = null;
	/** When a failed event is retried, and when it is dead-lettered. */
	readonly policy: DeliveryPolicy;
	readonly deadLetterExchange: string;
	readonly queueType: QueueType;
	private readonly declaredQueues = new Set<string>();
	private readonly eventConsumers = new Map<string, { channel: Channel; consumerTag?: string }>();
	private readonly inFlight = new Set<Promise<void>>();
	/** Signs what this node sends, decides what it may handle. */
	readonly guard: PacketGuard;
	private readonly refusals = new RefusalLog((message, context) => this.logger.warn(message, context));
	/** Which actions' shared queues a node consumes: a request none does is refused at once. */
	private readonly consumers = new QueueConsumers(() => (this as unknown as { connection: import("amqplib").ChannelModel | null }).connection);
	/** True from `disconnect` on: a closed confirm channel is then not opened again. */
	disconnecting = false;
	/** When this transporter was made: an INFO of this node's id signed earlier is a recording. */
	private readonly createdAt: number;
	/** Retries or dead-letters a balanced event message whose handling failed. */
	private readonly settlement = new EventSettlement(this);
	/** Where balanced requests are consumed, with their own prefetch. */
	readonly requests: RequestChannel;

	constructor(o: ReliableAmqpOptions) {
		// noDelay: without it Nagle's algorithm holds small frames for the peer's delayed ACK,
		// about 40 ms on every request and confirm (measured in docs/benchmarks.md).
		const queueOptions = moleculerQueueOptions(o.queueType);
		super({ url: o.url, prefetch: o.prefetch ?? DEFAULT_CONSUMER_PREFETCH, queueOptions, socketOptions: { noDelay: true, ...o.socketOptions } } as never);
		this.policy = { ...o.policy, maxAttempts: Math.max(1, o.policy.maxAttempts) };
		this.deadLetterExchange = o.deadLetterExchange ?? DEAD_LETTER_EXCHANGE;
		this.queueType = o.queueType ?? DEFAULT_QUEUE_TYPE;
		this.guard = new PacketGuard(o.signing);
		this.createdAt = (o.signing.now ?? Date.now)();
		this.requests = new RequestChannel(this, o.requestPrefetch ?? DEFAULT_REQUEST_PREFETCH);
	}

	/** Joins its broker, and makes the broker check at start what would lose the guarantees (start-checks.ts). */
	init(...args: Parameters<InstanceType<typeof AmqpTransporter>["init"]>): void {
		super.init(...args);
		this.broker?.middlewares.add(reliableBusStartChecks(this));
	}

	/** Serializes a packet as Moleculer does, then signs it. */
	serialize(packet: Parameters<InstanceType<typeof AmqpTransporter>["serialize"]>[0]): Buffer {
		return this.guard.sign(packet.type, super.serialize(packet));
	}

	/** Moleculer's `receive`, passing on the event consumer's third argument (the base drops it). */
	receive(cmd: string, data: Buffer, delivery?: unknown): Promise<void> {
		return this.incomingMessage(cmd, data, delivery);
	}

	/**
	 * The one receive path of every packet (Moleculer's `receive` calls it, after the transmit
	 * middlewares): checks its signature, then hands it to Moleculer. A refused packet is counted
	 * and logged; an event consumer gets a {@link RefusedMessage} back and dead-letters it.
	 */
	incomingMessage(cmd: string, msg?: Buffer, delivery?: unknown): Promise<void> {
		// Moleculer types this Promise<void>; it gives back what the packet's handling resolves to
		// (true when handled), and for a refused packet a RefusedMessage.
		return this.checkIncoming(cmd, msg, delivery as EventDelivery | undefined) as Promise<void>;
	}

	private checkIncoming(cmd: string, msg: Buffer | undefined, delivery: EventDelivery | undefined): unknown {
		if (!msg) return undefined;
		const checked = this.guard.check(cmd, msg);
		if (!checked.accepted) return this.refuse(cmd, checked.reason, claimedSender(checked.claimed));

		let packet: EventPacket & { payload: { sender?: string; instanceID?: string } };
		try {
			packet = this.deserialize(cmd, checked.packet) as unknown as typeof packet;
			if (delivery && packet.payload?.event !== delivery.event) {
				throw new Error(`expected a '${delivery.event}' event packet`);
			}
		} catch (err) {
			if (delivery) {
				return new RefusedMessage(new Errors.MoleculerClientError(`Malformed message: ${(err as Error).message}`, 400, "MALFORMED_MESSAGE"));
			}
			this.logger.warn(`Invalid incoming packet of type '${cmd}'.`, (err as Error).message);
			return undefined;
		}
		// A node's own INFO from before this process started is a recording: handled, it would stop
		// this node as a "nodeID conflict".
		if (cmd === "INFO" && packet.payload.sender === this.nodeID && packet.payload.instanceID !== this.broker.instanceID && checked.sentAt < this.createdAt) {
			return this.refuse(cmd, "replay", this.nodeID);
		}
		if (cmd === PACKET_REQUEST && this.callerGaveUp(packet as unknown as RequestPacket, checked.sentAt)) return undefined;
		if (delivery) delivery.packet = packet;
		return this.messageHandler(cmd, packet);
	}

	/** True (and logged) for a request whose caller's timeout passed before it arrived: it must not run. */
	private callerGaveUp(packet: RequestPacket & { payload: { sender?: string } }, sentAt: number): boolean {
		const timeout = Number(packet.payload.timeout);
		const waited = this.guard.now() - sentAt;
		if (!(timeout > 0) || waited <= timeout) return false;
		this.logger.info(`Dropped a '${packet.payload.action}' request from '${packet.payload.sender}': its caller gave up ${waited - timeout} ms ago.`);
		return true;
	}

	/** Counts and logs a refused packet; an event consumer dead-letters what this returns. */
	private refuse(cmd: string, reason: RejectionReason, sender: string): RefusedMessage {
		recordPacketRejected(this.broker, reason);
		this.refusals.note({ reason, type: cmd, sender });
		return new RefusedMessage(new BusPacketRejectedError(reason));
	}

	/** Opens the confirm channel used for every publish this class adds, then lets Moleculer go on. */
	async onConnected(wasReconnect?: boolean): Promise<unknown> {
		// On a reconnect Moleculer already consumes this node's request queue: a request handled
		// before `connected` turns true would find its response refused as "disconnected".
		this.connected = true;
		this.disconnecting = false;
		this.consumers.reset();
		this.confirmChannel = await openConfirmChannel(this);
		await this.requests.open(this.connection);
		// A new connection has new channels: every consumer and declaration must be made again.
		this.declaredQueues.clear();
		this.eventConsumers.clear();
		return super.onConnected(wasReconnect);
	}

	/** Consumes an action's shared request queue on the request channel (see request-channel.ts). */
	subscribeBalancedRequest(action: string): Promise<void> {
		const queue = `${this.prefix}.${PACKET_REQUEST}B.${action}`;
		return this.requests
			.consume(queue, this._getQueueOptions(PACKET_REQUEST, true), this.opts.consumeOptions)
			.catch(err => this.logger.error(`Unable to consume '${queue}'; it is retried on the next reconnection.`, err));
	}

	/** Consumes a group's durable event queue with manual acknowledgement. */
	async subscribeBalancedEvent(event: string, group: string): Promise<void> {
		// Moleculer's internal events ($services.changed, …) are local notices: the stock way suits them.
		if (event.startsWith("$")) return super.subscribeBalancedEvent(event, group);
		const channel = this.channel;
		if (!channel) return;
		const names = eventQueueNames(this.prefix, group, event);
		// Moleculer re-subscribes on every local service change; one consumer per queue is enough.
		if (this.eventConsumers.has(names.main)) return;
		this.eventConsumers.set(names.main, { channel });

		try {
			await this.requests.settled();
			await declareEventTopology(channel, names, this.deadLetterExchange, this.policy.maxAttempts, this.queueType);
			this.declaredQueues.add(names.main);
			const { consumerTag } = await channel.consume(
				names.main,
				msg => {
					if (msg) this.track(this.handleEventMessage(channel, names.main, group, event, msg));
				},
				{ noAck: false }
			);
			const consumer = this.eventConsumers.get(names.main);
			if (consumer) consumer.consumerTag = consumerTag;
		} catch (err) {
			// Moleculer calls this without awaiting it: a rejection would go unhandled.
			this.eventConsumers.delete(names.main);
			if ((err as { code?: number }).code === 406) {
				// PRECONDITION_FAILED: the queue exists with other arguments (Moleculer's stock
				// transporter makes it expire). Running without consuming it would lose nothing but
				// would process nothing either: stop, and say what to do.
				this.broker.fatal(
					`Queue '${names.main}' exists with other arguments than this transporter's (QUEUE_TYPE=${this.queueType}); migrate it as docs/queues.md says, then start again.`,
					err as Error,
					true
				);
				return;
			}
			this.logger.error(`Unable to consume '${names.main}'; it is retried on the next reconnection.`, err);
		}
	}

	/** Publishes every group copy of a balanced event and waits for all confirms. */
	prepublish(anyPacket: Parameters<InstanceType<typeof AmqpTransporter>["prepublish"]>[0]): Promise<void> {
		const packet = anyPacket as unknown as EventPacket;
		const groups = packet.payload?.groups;
		if (packet.type !== PACKET_EVENT || packet.target != null || !groups?.length) {
			return super.prepublish(anyPacket);
		}
		if (!this.connected || !this.confirmChannel) {
			return Promise.reject(new Errors.BrokerDisconnectedError("The AMQP connection is down."));
		}
		return Promise.all(
			groups.map(group => {
				const copy = Object.assign(Object.create(Object.getPrototypeOf(packet)), packet, {
					payload: { ...packet.payload, groups: [group] }
				});
				return this.publishBalancedEvent(copy, group);
			})
		).then(() => undefined);
	}

	/**
	 * Sends balanced events persistently with confirms, and requests so that none runs after its
	 * caller gave up (see sendRequest); everything else the stock way.
	 */
	async send(topic: string, data: Buffer, meta: { balanced?: boolean; packet: EventPacket }): Promise<void> {
		if (meta.packet.type === PACKET_REQUEST) return this.sendRequest(topic, data, meta as unknown as { balanced?: boolean; packet: RequestPacket });
		if (!meta.balanced || meta.packet.type !== PACKET_EVENT) return super.send(topic, data, meta);

		const channel = this.confirmChannel;
		if (!channel) throw new Errors.BrokerDisconnectedError("The AMQP connection is down.");
		if (!this.declaredQueues.has(topic)) {
			// The group's queue must exist before the first send, or RabbitMQ drops the message.
			await channel.assertQueue(topic, mainQueueOptions(topic, this.deadLetterExchange, this.queueType)).catch((err: Error & { code?: number }) => {
				if (err.code !== 406) throw err;
				// Another node declared it with another QUEUE_TYPE: every publish would fail the same way.
				throw new Errors.MoleculerError(`Queue '${topic}' exists with other arguments than QUEUE_TYPE=${this.queueType} declares; every node of a namespace needs the same QUEUE_TYPE (docs/queues.md). ${err.message}`, 500, "QUEUE_MISMATCH");
			});
			this.declaredQueues.add(topic);
		}
		await confirmedPublish(channel, "", topic, data, {
			messageId: meta.packet.payload.id,
			headers: { [DeliveryHeaders.Attempts]: 0 }
		});
	}

	/**
	 * Sends a request so that it never runs after its caller gave up:
	 * - it expires in its queue when the caller's timeout passes (a per-message TTL), so a request
	 *   that waited for a consumer, every node of the action having died, is dropped by RabbitMQ
	 *   instead of running whenever a node comes back;
	 * - an action's shared queue that no node consumes (they all died; the registry keeps them
	 *   until their heartbeats time out) refuses the request at once with a 503, instead of letting
	 *   the caller wait for its timeout.
	 * The receiving node also drops a request whose caller's timeout passed (checkIncoming).
	 */
	private async sendRequest(topic: string, data: Buffer, meta: { balanced?: boolean; packet: RequestPacket }): Promise<void> {
		const channel = this.channel;
		if (!channel) throw new Errors.BrokerDisconnectedError("The AMQP connection is down.");
		const action = meta.packet.payload.action;
		if (meta.balanced && !(await this.consumers.hasConsumers(topic))) {
			throw new Errors.ServiceNotAvailableError({ action, nodeID: this.nodeID });
		}
		const timeout = Number(meta.packet.payload.timeout);
		const expiration = Number.isFinite(timeout) && timeout > 0 ? { expiration: String(Math.ceil(timeout)) } : {};
		channel.sendToQueue(topic, data, { ...this.opts.messageOptions, ...expiration });
	}

	/** Stops consuming, waits for in-flight handlers, then closes like the stock transporter. */
	async disconnect(): Promise<void> {
		this.disconnecting = true;
		await this.stopConsumingEvents();
		await this.waitForInFlight(10_000);
		const confirmChannel = this.confirmChannel;
		this.confirmChannel = null;
		if (confirmChannel) await confirmChannel.close().catch(() => undefined);
		await this.requests.close();
		return super.disconnect();
	}

	/** Cancels every event consumer: messages not yet delivered stay in their queues. */
	async stopConsumingEvents(): Promise<void> {
		const consumers = [...this.eventConsumers.values()];
		await Promise.all(
			consumers.map(({ channel, consumerTag }) =>
				consumerTag ? channel.cancel(consumerTag).catch(() => undefined) : undefined
			)
		);
	}

	// --- delivery -------------------------------------------------------------------------------

	private async handleEventMessage(
		channel: Channel,
		queue: string,
		group: string,
		event: string,
		msg: ConsumeMessage
	): Promise<void> {
		const attempt = Number(msg.properties.headers?.[DeliveryHeaders.Attempts] ?? 0) + 1;

		// Through `receive`, as every packet: the transmit middlewares and the signature check see it.
		const delivery: EventDelivery = { event };
		const result = await (this.receive as unknown as (cmd: string, data: Buffer, s: EventDelivery) => unknown)(PACKET_EVENT, msg.content, delivery);
		if (result instanceof RefusedMessage) {
			return this.settlement.settleFailure({ channel, queue, group, event, msg, attempt, error: result.error });
		}
		if (result === true) {
			channel.ack(msg);
			return;
		}

		const failure = takeEventFailure(delivery.packet?.payload.data);
		if (!failure && this.broker.stopping) {
			// Not processed because this node is shutting down: give it back to another consumer.
			await this.stopConsumingEvents();
			return this.settlement.giveBack(channel, queue, msg);
		}
		const error = failure ?? new Error(`The '${event}' handler of group '${group}' failed.`);
		return this.settlement.settleFailure({ channel, queue, group, event, msg, attempt, error });
	}

	private track(work: Promise<void>): void {
		const p = work.catch(err => this.logger.error("Event message handling failed.", err));
		this.inFlight.add(p);
		void p.finally(() => this.inFlight.delete(p));
	}

	private async waitForInFlight(timeoutMs: number): Promise<void> {
		if (this.inFlight.size === 0) return;
		let timer: NodeJS.Timeout | undefined;
		await Promise.race([
			Promise.allSettled([...this.inFlight]),
			new Promise(resolve => (timer = setTimeout(resolve, timeoutMs)))
		]);
		clearTimeout(timer);
	}
}
