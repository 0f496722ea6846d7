/**
 * QUEUE_TYPE=quorum against the real RabbitMQ, under a vhost policy `delivery-limit: 20` (what
 * RabbitMQ 4 gives every quorum queue): the event, retry and dead-letter queues are quorum queues
 * that dead-letter at least once, Moleculer's own queues stay classic, dead letters survive any
 * number of looks, and a message given back at shutdown does not use up the limit. And the start-up
 * checks: queues of another type, the balancer turned back on, a wildcard balanced event each stop
 * the start with one line.
 */
import { execFileSync } from "node:child_process";
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type GetMessage } from "amqplib";
import { Errors, ServiceBroker, type Context } from "moleculer";
import { brokerWith } from "../support/broker";
import { LOCAL_CLUSTER_SECRET, createTestVhost, uniqueSuffix, waitFor, type TestVhost } from "../support/services";
import { createBrokerOptions, readEnvironment } from "../../moleculer.config";
import { DeadLetterStore } from "../../lib/transport/dead-letter-store";
import { EventSettlement, confirmedPublish, type SettlementHost } from "../../lib/transport/event-settlement";
import { eventQueueNames } from "../../lib/transport/event-queues";
import { ReliableAmqpTransporter } from "../../lib/transport/reliable-amqp";
import { StartupError } from "../../lib/startup-error";

const LOOKS = 25;

interface QueueRow {
	name: string;
	type: string;
	arguments: Record<string, unknown>;
}

/** The queues of a vhost with their type and arguments, as RabbitMQ lists them. */
function listQueues(vhost: string): QueueRow[] {
	const out = execFileSync("rabbitmqctl", ["list_queues", "-q", "-p", vhost, "name", "type", "arguments", "--formatter", "json"], { encoding: "utf8" });
	// Each argument comes as [name, type, value].
	const rows = JSON.parse(out) as Array<{ name: string; type: string; arguments: Array<[string, string, unknown]> }>;
	return rows.map(row => ({ ...row, arguments: Object.fromEntries(row.arguments.map(([name, , value]) => [name, value])) }));
}

describe("Test QUEUE_TYPE=quorum against RabbitMQ", () => {
	let vhost: TestVhost;
	let connection: ChannelModel;
	let channel: ConfirmChannel;
	let consumer: ServiceBroker;
	let publisher: ServiceBroker;
	const namespace = `qq${uniqueSuffix()}`;
	const names = eventQueueNames(`MOL-${namespace}`, "consumer", "test.happened");
	const handled: number[] = [];
	const attempts = new Map<number, number>();

	const brokerFor = (nodeID: string) =>
		brokerWith({ TRANSPORTER: vhost.url, NAMESPACE: namespace, NODEID: nodeID, QUEUE_TYPE: "quorum", RETRY_MAX_ATTEMPTS: "3", RETRY_BASE_DELAY_MS: "50" });
	const emit = (payload: { n: number; fail?: "once" | "permanent" }) => publisher.emit("test.happened", payload, { groups: ["consumer"], throwError: true });
	const queueDepth = async (queue: string) => (await channel.checkQueue(queue)).messageCount;

	beforeAll(async () => {
		vhost = createTestVhost();
		execFileSync("rabbitmqctl", ["set_policy", "-p", vhost.vhost, "delivery-limit-20", ".*", '{"delivery-limit":20}', "--apply-to", "queues"], { stdio: "ignore" });
		connection = await amqp.connect(vhost.url);
		channel = await connection.createConfirmChannel();
		consumer = brokerFor(`consumer-${namespace}`);
		consumer.createService({
			name: "consumer",
			events: {
				"test.happened": {
					group: "consumer",
					handler(ctx: Context<{ n: number; fail?: string }>) {
						const { n, fail } = ctx.params;
						attempts.set(n, (attempts.get(n) ?? 0) + 1);
						if (fail === "permanent") throw new Errors.MoleculerClientError("refused for good", 400, "REFUSED");
						if (fail === "once" && attempts.get(n) === 1) throw new Error("database unreachable");
						handled.push(n);
					}
				}
			}
		});
		publisher = brokerFor(`publisher-${namespace}`);
		await Promise.all([consumer.start(), publisher.start()]);
		await waitFor("the consumer to consume its queue", async () => (await channel.checkQueue(names.main)).consumerCount === 1);
	});

	afterAll(async () => {
		await publisher?.stop();
		await consumer?.stop();
		await connection?.close();
		await vhost?.remove();
	});

	it("should declare the event, retry and dead-letter queues as quorum queues that dead-letter at least once, and leave Moleculer's own queues classic", () => {
		const queues = listQueues(vhost.vhost);
		const byName = new Map(queues.map(q => [q.name, q]));
		for (const name of [names.main, names.deadLetter, names.retry(1), names.retry(2)]) expect(byName.get(name)?.type).toBe("quorum");
		for (const name of [names.main, names.retry(1), names.retry(2)]) {
			expect(byName.get(name)?.arguments).toMatchObject({ "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish" });
		}
		const moleculers = queues.filter(q => !/\.(EVENTB|DLQ|RETRY)\./.test(q.name));
		expect(moleculers.length).toBeGreaterThan(0);
		expect(moleculers.filter(q => q.type !== "classic")).toEqual([]);
	});

	it("should bring a failed event back from its quorum retry queue and handle it", async () => {
		await emit({ n: 1, fail: "once" });
		await waitFor("event 1 to be handled after its retry", () => handled.includes(1));
		expect(attempts.get(1)).toBe(2);
	});

	it(`should keep every dead letter, in order, through ${LOOKS} listings under a delivery limit of 20`, async () => {
		for (const n of [11, 12, 13]) await emit({ n, fail: "permanent" });
		await waitFor("three dead letters", async () => (await queueDepth(names.deadLetter)) === 3);
		const store = new DeadLetterStore(vhost.url, `MOL-${namespace}`, [{ event: "test.happened", group: "consumer" }], (publisher.transit!.tx as unknown as ReliableAmqpTransporter).guard);
		try {
			const first = (await store.list()).map(v => v.id);
			expect(first).toHaveLength(3);
			for (let look = 1; look < LOOKS; look++) {
				expect((await store.list()).map(v => v.id)).toEqual(first);
				// A look that stops early (one letter asked for) keeps the order too.
				expect((await store.list({}, 1)).map(v => v.id)).toEqual(first.slice(0, 1));
			}
			expect(await queueDepth(names.deadLetter)).toBe(3);
			expect(await store.purge()).toHaveLength(3);
			expect(await queueDepth(names.deadLetter)).toBe(0);
		} finally {
			await store.close();
		}
	});

	it("should, for comparison, lose a message of a quorum queue that is looked at and handed back by closing the channel 21 times", async () => {
		const queue = `control-${namespace}`;
		await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
		await confirmedPublish(channel, "", queue, Buffer.from("look at me"), {});
		let looks = 0;
		for (; looks < LOOKS; looks++) {
			const browser = await connection.createChannel();
			const msg = await browser.get(queue, { noAck: false });
			await browser.close();
			if (!msg) break;
		}
		expect(looks).toBe(21);
	});

	it(`should give back a message on shutdown ${LOOKS} times without using up the delivery limit`, async () => {
		const queue = `giveback-${namespace}`;
		await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
		await confirmedPublish(channel, "", queue, Buffer.from("not processed yet"), { messageId: "m-1" });
		const host = { queueType: "quorum", confirmChannel: channel, logger: { warn() {}, error() {} } } as unknown as SettlementHost;
		const settlement = new EventSettlement(host);
		const taker: Channel = await connection.createChannel();
		try {
			for (let i = 0; i < LOOKS; i++) {
				const msg = (await waitFor("the message back in its queue", () => taker.get(queue, { noAck: false }))) as GetMessage;
				expect(msg.properties.messageId).toBe("m-1");
				expect(Number(msg.properties.headers?.["x-delivery-count"] ?? 0)).toBe(0);
				await settlement.giveBack(taker, queue, msg);
			}
			await waitFor("the message back in its queue", async () => (await queueDepth(queue)) === 1);
		} finally {
			await taker.close();
		}
	});
});

describe("Test the start-up checks of the reliable transporter against RabbitMQ", () => {
	let vhost: TestVhost;
	let connection: ChannelModel;

	const env = (namespace: string, extra: Record<string, string> = {}) => ({ TRANSPORTER: vhost.url, NAMESPACE: namespace, NODEID: `n-${uniqueSuffix()}`, ...extra });
	const withConsumer = (broker: ServiceBroker, events: Record<string, unknown> = { "test.happened": { group: "consumer", handler() {} } }) => {
		broker.createService({ name: "consumer", events: events as never });
		return broker;
	};
	/** Starts the broker, expecting a StartupError; stops what it started; returns the error. */
	const failedStart = async (broker: ServiceBroker): Promise<StartupError> => {
		try {
			await broker.start();
		} catch (err) {
			await broker.stop().catch(() => undefined);
			expect(err).toBeInstanceOf(StartupError);
			expect((err as Error).message).not.toContain("\n");
			return err as StartupError;
		}
		await broker.stop();
		throw new Error("the start did not fail");
	};
	const queueExists = async (queue: string) => {
		const probe = await connection.createChannel();
		probe.on("error", () => undefined);
		try {
			await probe.checkQueue(queue);
			return true;
		} catch {
			return false;
		} finally {
			await probe.close().catch(() => undefined);
		}
	};

	beforeAll(async () => {
		vhost = createTestVhost();
		connection = await amqp.connect(vhost.url);
	});

	afterAll(async () => {
		await connection?.close();
		await vhost?.remove();
	});

	it("should stop a node with QUEUE_TYPE=quorum whose event queues exist as classic queues, saying what differs and how to migrate", async () => {
		const namespace = `sc${uniqueSuffix()}`;
		const names = eventQueueNames(`MOL-${namespace}`, "consumer", "test.happened");
		const classic = withConsumer(brokerWith(env(namespace)));
		await classic.start();
		await waitFor("the classic queues", () => queueExists(names.retry(1)));
		await classic.stop();

		const err = await failedStart(withConsumer(brokerWith(env(namespace, { QUEUE_TYPE: "quorum" }))));
		expect(err.message).toBe(
			`Queue '${names.main}' is a classic queue, but QUEUE_TYPE=quorum declares it a quorum queue, and RabbitMQ cannot change a queue's type. Migrate it as docs/queues.md says (stop the consumers, drain or shovel its messages, delete it, start again), or set QUEUE_TYPE=classic.`
		);
	});

	it("should stop a node with the default QUEUE_TYPE whose event queues are quorum queues", async () => {
		const namespace = `sc${uniqueSuffix()}`;
		const quorum = withConsumer(brokerWith(env(namespace, { QUEUE_TYPE: "quorum" })));
		await quorum.start();
		await quorum.stop();

		const err = await failedStart(withConsumer(brokerWith(env(namespace))));
		expect(err.message).toMatch(/is a quorum queue, but QUEUE_TYPE=classic declares it a classic queue.*set QUEUE_TYPE=quorum\.$/);
	});

	it("should refuse a publish from a node of the other QUEUE_TYPE, naming the variable", async () => {
		const namespace = `sc${uniqueSuffix()}`;
		const quorum = withConsumer(brokerWith(env(namespace, { QUEUE_TYPE: "quorum" })));
		const classicPublisher = brokerWith(env(namespace));
		await Promise.all([quorum.start(), classicPublisher.start()]);
		try {
			await waitFor("the quorum queues", () => queueExists(eventQueueNames(`MOL-${namespace}`, "consumer", "test.happened").deadLetter));
			await expect(classicPublisher.emit("test.happened", {}, { groups: ["consumer"], throwError: true })).rejects.toThrow(
				/exists with other arguments than QUEUE_TYPE=classic declares; every node of a namespace needs the same QUEUE_TYPE/
			);
		} finally {
			await Promise.all([quorum.stop(), classicPublisher.stop()]);
		}
	});

	it("should stop a node whose broker options turn Moleculer's balancer back on", async () => {
		const options = createBrokerOptions(readEnvironment({ ...env(`sc${uniqueSuffix()}`), CLUSTER_SECRET: LOCAL_CLUSTER_SECRET, METRICS_PORT: "off", LOG_LEVEL: "fatal" }));
		const err = await failedStart(withConsumer(new ServiceBroker({ ...options, disableBalancer: false })));
		expect(err.message).toMatch(/balancer is on.*Remove the override/);
	});

	it("should stop a node with a wildcard balanced event handler before any queue is made for it", async () => {
		const namespace = `sc${uniqueSuffix()}`;
		const err = await failedStart(withConsumer(brokerWith(env(namespace)), { "orders.**": { group: "watchers", handler() {} } }));
		expect(err.message).toContain("wildcard event 'orders.**' in group 'watchers'");
		expect(await queueExists(`MOL-${namespace}.EVENTB.watchers.orders.**`)).toBe(false);
	});
});
