/**
 * The reliable AMQP transporter against the real RabbitMQ: what Moleculer's stock transporter would
 * lose (events emitted with no consumer online, failed handlers, malformed messages) stays in a
 * durable queue, is retried, or ends in the dead-letter queue with its reason.
 */
import amqp, { type Channel, type ChannelModel, type GetMessage } from "amqplib";
import { Errors, ServiceBroker, type Context } from "moleculer";
import { brokerWith } from "../support/broker";
import { DeliveryHeaders, ReliableAmqpTransporter, eventQueueNames } from "../../lib/transport/reliable-amqp";
import { clusterKeys, packetBytes, signPacket } from "../../lib/transport/packet-signing";
import { createTestVhost, LOCAL_CLUSTER_SECRET, uniqueSuffix, waitFor, type TestVhost } from "../support/services";

interface TestEvent {
	n: number;
	fail?: "transient" | "always" | "permanent";
}

const MAX_ATTEMPTS = 3;

describe("Test 'ReliableAmqpTransporter' against RabbitMQ", () => {
	let vhost: TestVhost;
	let namespace: string;
	let connection: ChannelModel;
	let channel: Channel;
	let publisher: ServiceBroker;
	let consumer: ServiceBroker | undefined;
	const handled: TestEvent[] = [];
	const attempts = new Map<number, number>();
	/** Called by the handler on each attempt: a test can act the moment an attempt fails, not 100 ms later. */
	const attemptWaiters: Array<(n: number, attempt: number) => void> = [];
	const attemptOf = (n: number, attempt: number) =>
		new Promise<void>(resolve => attemptWaiters.push((seen, count) => seen === n && count === attempt && resolve()));
	let names: ReturnType<typeof eventQueueNames>;

	const brokerFor = (nodeID: string) =>
		brokerWith({
			TRANSPORTER: vhost.url,
			NAMESPACE: namespace,
			NODEID: nodeID,
			RETRY_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
			RETRY_BASE_DELAY_MS: "50"
		});

	const startConsumer = async () => {
		consumer = brokerFor(`consumer-${uniqueSuffix()}`);
		consumer.createService({
			name: "consumer",
			events: {
				"test.happened": {
					group: "consumer",
					params: { type: "object", required: ["n"], properties: { n: { type: "integer" }, fail: { type: "string" } } },
					handler(ctx: Context<TestEvent>) {
						const n = ctx.params.n;
						const attempt = (attempts.get(n) ?? 0) + 1;
						attempts.set(n, attempt);
						for (const waiter of attemptWaiters) waiter(n, attempt);
						if (ctx.params.fail === "permanent") throw new Errors.MoleculerClientError("refused for good", 400, "REFUSED");
						if (ctx.params.fail === "always") throw new Error(`database unreachable (attempt ${attempt})`);
						if (ctx.params.fail === "transient" && attempt < 3) throw new Error("database unreachable");
						handled.push(ctx.params);
					}
				}
			}
		});
		await consumer.start();
	};

	const emit = (payload: unknown) => publisher.emit("test.happened", payload, { groups: ["consumer"], throwError: true });

	const deadLetters = async (): Promise<GetMessage[]> => {
		const found: GetMessage[] = [];
		for (;;) {
			const msg = await channel.get(names.deadLetter, { noAck: true });
			if (!msg) return found;
			found.push(msg);
		}
	};
	const deadLetterFor = (n: number) =>
		waitFor(`a dead letter for event ${n}`, async () => {
			const all = await deadLetters();
			return all.find(m => {
				try {
					return JSON.parse(packetBytes(m.content).toString()).data?.n === n;
				} catch {
					return m.content.toString().includes(String(n));
				}
			});
		});

	beforeAll(async () => {
		vhost = createTestVhost();
		namespace = `t${uniqueSuffix()}`;
		names = eventQueueNames(`MOL-${namespace}`, "consumer", "test.happened");
		connection = await amqp.connect(vhost.url);
		channel = await connection.createChannel();
		publisher = brokerFor(`publisher-${uniqueSuffix()}`);
		await publisher.start();
	});

	afterAll(async () => {
		await consumer?.stop();
		await publisher?.stop();
		await connection?.close();
		await vhost?.remove();
	});

	describe("When an event is emitted while no consumer of its group has ever run", () => {
		it("should keep it, persistent, in a durable queue that never expires, and deliver it once a consumer starts", async () => {
			await emit({ n: 1 });

			const queue = await channel.checkQueue(names.main);
			expect(queue.messageCount).toBe(1);
			const stored = await channel.get(names.main);
			expect(stored && stored.properties.deliveryMode).toBe(2);
			if (stored) channel.nack(stored, false, true);

			// RabbitMQ refuses to redeclare a queue with arguments it does not have: no x-expires here.
			const probe = await connection.createChannel();
			probe.on("error", () => undefined);
			await expect(probe.assertQueue(names.main, { durable: true, arguments: { "x-expires": 120_000 } })).rejects.toThrow(
				/PRECONDITION_FAILED/
			);

			await startConsumer();
			await waitFor("event 1 to be handled", () => handled.some(e => e.n === 1));
			expect(handled.filter(e => e.n === 1)).toHaveLength(1);
		});
	});

	describe("When a handler fails for a passing reason", () => {
		it("should retry with backoff until it succeeds, and dead-letter nothing", async () => {
			await emit({ n: 2, fail: "transient" });

			await waitFor("event 2 to be handled", () => handled.some(e => e.n === 2));
			expect(attempts.get(2)).toBe(3);
			expect((await channel.checkQueue(names.deadLetter)).messageCount).toBe(0);
		});
	});

	describe("When a handler keeps failing", () => {
		it("should dead-letter the message after the last attempt, with its payload, error and attempt count", async () => {
			await emit({ n: 3, fail: "always" });

			const dead = await deadLetterFor(3);
			expect(attempts.get(3)).toBe(MAX_ATTEMPTS);
			const headers = dead.properties.headers ?? {};
			expect(headers[DeliveryHeaders.Attempts]).toBe(MAX_ATTEMPTS);
			expect(String(headers[DeliveryHeaders.LastError])).toBe(`database unreachable (attempt ${MAX_ATTEMPTS})`);
			expect(headers[DeliveryHeaders.OriginalQueue]).toBe(names.main);
			expect(JSON.parse(packetBytes(dead.content).toString()).data).toEqual({ n: 3, fail: "always" });
			expect(dead.properties.deliveryMode).toBe(2);
		});
	});

	describe("When a handler refuses the event for good", () => {
		it("should dead-letter it at once, without retrying", async () => {
			await emit({ n: 4, fail: "permanent" });

			const dead = await deadLetterFor(4);
			expect(attempts.get(4)).toBe(1);
			expect(dead.properties.headers?.[DeliveryHeaders.Attempts]).toBe(1);
			expect(String(dead.properties.headers?.[DeliveryHeaders.LastError])).toBe("refused for good");
		});
	});

	describe("When an event breaks its schema", () => {
		it("should dead-letter it at once without calling the handler", async () => {
			await emit({ n: 5.5 });

			const dead = await waitFor("the invalid event in the dead-letter queue", async () =>
				(await deadLetters()).find(m => m.properties.headers?.[DeliveryHeaders.ErrorName] === "ValidationError")
			);
			expect(dead.properties.headers?.[DeliveryHeaders.Attempts]).toBe(1);
			expect(attempts.has(5.5)).toBe(false);
		});
	});

	describe("When a message not signed with the cluster key lands in the queue", () => {
		it("should dead-letter it at once as refused by its signature, without calling the handler", async () => {
			const forged = JSON.stringify({ ver: "5", sender: "intruder", id: "x", event: "test.happened", data: { n: 8 }, groups: ["consumer"] });
			channel.sendToQueue(names.main, Buffer.from(forged), { persistent: true });

			const dead = await waitFor("the unsigned message in the dead-letter queue", async () =>
				(await deadLetters()).find(m => m.content.toString() === forged)
			);
			expect(String(dead.properties.headers?.[DeliveryHeaders.LastError])).toMatch(/^Bus packet rejected \(signature\)/);
			expect(dead.properties.headers?.[DeliveryHeaders.Attempts]).toBe(1);
			expect(attempts.has(8)).toBe(false);
		});
	});

	describe("When a signed but malformed message lands in the queue", () => {
		it("should dead-letter it with its reason and keep consuming", async () => {
			const body = signPacket(clusterKeys(LOCAL_CLUSTER_SECRET), "EVENT", Buffer.from("this is not a Moleculer packet"), Date.now());
			channel.sendToQueue(names.main, body, { persistent: true });

			const dead = await waitFor("the malformed message in the dead-letter queue", async () =>
				(await deadLetters()).find(m => packetBytes(m.content).toString() === "this is not a Moleculer packet")
			);
			expect(String(dead.properties.headers?.[DeliveryHeaders.LastError])).toMatch(/^Malformed message/);

			await emit({ n: 6 });
			await waitFor("event 6 to be handled after the malformed one", () => handled.some(e => e.n === 6));
		});
	});

	describe("When the consumer restarts while a retry is waiting", () => {
		it("should still deliver the retry: the delay lives in RabbitMQ, not in the process", async () => {
			// The retry follows 25-50 ms after the failure: stop the consumer at once, not on a poll.
			const firstAttempt = attemptOf(7, 1);
			await emit({ n: 7, fail: "transient" });
			await firstAttempt;
			await consumer!.stop();
			await startConsumer();

			await waitFor("event 7 to be handled by the new consumer", () => handled.some(e => e.n === 7));
			expect(attempts.get(7)).toBe(3);
		});
	});

	describe("When RabbitMQ closes the publishing channel while the connection stays up", () => {
		it("should open a new one and publish again, without a restart", async () => {
			const transporter = publisher.transit!.tx as unknown as ReliableAmqpTransporter;
			const closed = transporter.confirmChannel!;
			// A publish RabbitMQ refuses (no such exchange) closes the channel with a channel-level error.
			closed.publish(`no-such-exchange-${uniqueSuffix()}`, "", Buffer.from("x"));
			await waitFor("a new confirm channel", () => transporter.confirmChannel !== null && transporter.confirmChannel !== closed);

			await emit({ n: 9 });
			await waitFor("event 9 to be handled", () => handled.some(e => e.n === 9));
		});
	});

	describe("When every message has been dealt with", () => {
		it("should leave the main queue empty: nothing is requeued forever", async () => {
			await waitFor("the main queue to drain", async () => (await channel.checkQueue(names.main)).messageCount === 0);
			expect(handled.map(e => e.n).sort()).toEqual([1, 2, 6, 7, 9]);
		});
	});
});
