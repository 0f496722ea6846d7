/**
 * The bus as an attacker sees it: a plain amqplib client with the cluster's broker account on its
 * vhost, but without CLUSTER_SECRET. It reads every discovery packet and finds no secret; every
 * request, event and discovery packet it forges is refused unhandled and counted; a packet it
 * records and plays back later does nothing. The same packets signed with the cluster key are
 * handled, so each refusal is the signature's doing, not a malformed packet's.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import { ServiceBroker, type Context } from "moleculer";
import { startSystem, type RunningSystem } from "../support/system";
import { startProcessorNode, type ProcessorNode } from "../support/processor-node";
import { brokerWith } from "../support/broker";
import { TEST_JWT_SECRET } from "../support/auth";
import { clusterKeys, packetBytes, signPacket } from "../../lib/transport/packet-signing";
import { DeliveryHeaders, eventQueueNames } from "../../lib/transport/reliable-amqp";
import { MetricNames } from "../../lib/metrics/business-metrics";
import { createBrokerOptions, readEnvironment } from "../../moleculer.config";
import { createTestDatabase, createTestVhost, LOCAL_CLUSTER_SECRET, uniqueSuffix, waitFor, type TestDatabase, type TestVhost } from "../support/services";

const KEYS = clusterKeys(LOCAL_CLUSTER_SECRET);
const INTRUDER = "intruder";

/** How many packets `broker` refused for `reason`. */
function rejected(broker: ServiceBroker, reason: string): number {
	const metric = broker.metrics.getMetric(MetricNames.BusPacketsRejected);
	const sample = metric?.snapshot().find(s => (s.labels as { reason?: string }).reason === reason) as { value?: number } | undefined;
	return Number(sample?.value ?? 0);
}

describe("Trust on the bus: an intruder on the vhost without the cluster key", () => {
	let vhost: TestVhost;
	let user: { name: string; password: string };
	let amqpUrl: string;
	let namespace: string;
	let prefix: string;
	let ordersDb: TestDatabase;
	let processorDb: TestDatabase;
	const dbPassword = randomBytes(12).toString("hex");
	let front: RunningSystem;
	let processor: ProcessorNode | undefined;
	let connection: ChannelModel;
	let channel: Channel;
	/** Every discovery packet (INFO, DISCOVER, HEARTBEAT) the intruder overheard, as sent. */
	const overheard: Buffer[] = [];
	/** Answers sent to the intruder's node id. */
	const answers: Array<{ id?: string; success?: boolean; data?: unknown }> = [];

	const withPassword = (url: string) => {
		const u = new URL(url);
		u.password = dbPassword;
		return u.toString();
	};
	const tap = async (exchange: string) => {
		await channel.assertExchange(exchange, "fanout", { durable: true });
		const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true });
		await channel.bindQueue(queue, exchange, "");
		await channel.consume(queue, (msg: ConsumeMessage | null) => msg && overheard.push(msg.content), { noAck: true });
	};
	/** A request from the intruder's node id, signed with the cluster key when `sign` says so. */
	const request = (action: string, params: unknown, meta: unknown = {}, sign?: { sentAt: number }, timeout = 0) => {
		const id = randomUUID();
		const body = Buffer.from(JSON.stringify({ ver: "5", sender: INTRUDER, id, action, params, meta, timeout, level: 1, requestID: id, stream: false }));
		channel.sendToQueue(`${prefix}.REQB.${action}`, sign ? signPacket(KEYS, "REQ", body, sign.sentAt) : body);
		return id;
	};
	const event = (name: string, data: unknown) =>
		Buffer.from(JSON.stringify({ ver: "5", sender: INTRUDER, id: randomUUID(), event: name, data, meta: {}, groups: [], broadcast: false, level: 1, needAck: false }));
	const createOrder = async (sku: string, quantity = 1) => {
		const res = await front.http().post("/api/orders").send({ customerId: "bus-customer", items: [{ sku, quantity, unitPrice: 2 }], currency: "EUR" });
		expect(res.status).toBe(201);
		return res.body.id as string;
	};
	const statusOf = async (id: string) => (await front.http().get(`/api/orders/${id}`)).body.status as string;

	beforeAll(async () => {
		vhost = createTestVhost();
		// The cluster's own broker account, with a password of its own: it must never travel on the bus.
		user = { name: `bus-${uniqueSuffix()}`, password: randomBytes(12).toString("hex") };
		execFileSync("rabbitmqctl", ["add_user", user.name, user.password], { stdio: "ignore" });
		execFileSync("rabbitmqctl", ["set_permissions", "-p", vhost.vhost, user.name, ".*", ".*", ".*"], { stdio: "ignore" });
		const url = new URL(vhost.url);
		url.username = user.name;
		url.password = user.password;
		amqpUrl = url.toString();
		namespace = `bus${uniqueSuffix()}`;
		prefix = `MOL-${namespace}`;
		[ordersDb, processorDb] = await Promise.all([createTestDatabase("bus_orders"), createTestDatabase("bus_processor")]);

		// The intruder listens before any node starts.
		connection = await amqp.connect(amqpUrl);
		channel = await connection.createChannel();
		for (const type of ["INFO", "DISCOVER", "HEARTBEAT"]) await tap(`${prefix}.${type}`);
		await channel.assertQueue(`${prefix}.RES.${INTRUDER}`, { autoDelete: true });
		await channel.consume(`${prefix}.RES.${INTRUDER}`, msg => msg && answers.push(JSON.parse(packetBytes(msg.content).toString())), { noAck: true });

		// The api and orders, no processor yet: a new order stays pending.
		front = await startSystem({
			services: ["api", "orders"],
			env: {
				TRANSPORTER: amqpUrl,
				NAMESPACE: namespace,
				ORDERS_DATABASE_URL: withPassword(ordersDb.url),
				PROCESSOR_DATABASE_URL: withPassword(processorDb.url),
				RATE_LIMIT_DATABASE_URL: withPassword(ordersDb.url),
				METRICS_PORT: "0"
			}
		});
	});

	afterAll(async () => {
		await processor?.stop();
		await front?.stop();
		await connection?.close().catch(() => undefined);
		await vhost?.remove();
		execFileSync("rabbitmqctl", ["delete_user", user.name], { stdio: "ignore" });
		await Promise.all([ordersDb?.drop(), processorDb?.drop()]);
	});

	it("should read no secret in any discovery packet: not the JWT secret, the cluster key, a database or the broker password", async () => {
		await waitFor("the api node's INFO packet", () => overheard.some(p => p.includes(`"name":"orders"`)));
		const everything = Buffer.concat(overheard).toString("utf8");
		expect(everything).toContain(`"name":"api"`);
		for (const secret of [TEST_JWT_SECRET, LOCAL_CLUSTER_SECRET, dbPassword, user.password]) expect(everything).not.toContain(secret);
	});

	it("should run no action called without the key, and the same call signed with it should be answered", async () => {
		await createOrder("SKU-0050");
		const refusedBefore = rejected(front.broker, "signature");
		const forged = request("orders.list", {});
		await waitFor("the forged call to be refused", () => rejected(front.broker, "signature") > refusedBefore);

		const signed = request("orders.list", {}, {}, { sentAt: Date.now() });
		await waitFor("the answer to the signed call", () => answers.some(a => a.id === signed));
		expect(answers.find(a => a.id === signed)).toMatchObject({ success: true, data: { total: 1 } });
		expect(answers.some(a => a.id === forged)).toBe(false);
	});

	it("should run a signed request once: played back later, or a second time, it does nothing", async () => {
		const staleBefore = rejected(front.broker, "stale");
		const old = request("orders.list", {}, {}, { sentAt: Date.now() - 5 * 60_000 });
		await waitFor("the recorded call to be refused as stale", () => rejected(front.broker, "stale") > staleBefore);

		const id = randomUUID();
		const body = Buffer.from(JSON.stringify({ ver: "5", sender: INTRUDER, id, action: "orders.list", params: {}, meta: {}, timeout: 0, level: 1, requestID: id }));
		const recorded = signPacket(KEYS, "REQ", body, Date.now());
		const replayBefore = rejected(front.broker, "replay");
		channel.sendToQueue(`${prefix}.REQB.orders.list`, recorded);
		channel.sendToQueue(`${prefix}.REQB.orders.list`, recorded);
		await waitFor("the second copy to be refused as a replay", () => rejected(front.broker, "replay") > replayBefore);
		await waitFor("the first copy's answer", () => answers.some(a => a.id === id));
		expect(answers.filter(a => a.id === id)).toHaveLength(1);
		expect(answers.some(a => a.id === old)).toBe(false);
	});

	it("should not run a signed request whose caller's timeout passed before it arrived", async () => {
		const givenUp = request("orders.list", {}, {}, { sentAt: Date.now() - 5000 }, 1000);
		const fresh = request("orders.list", {}, {}, { sentAt: Date.now() }, 15_000);
		// One queue, handled in order: once the second is answered, the first was decided.
		await waitFor("the answer to the request still awaited", () => answers.some(a => a.id === fresh));
		expect(answers.some(a => a.id === givenUp)).toBe(false);
	});

	it("should let no node add a route to the gateway: moleculer-web's own actions are not there", async () => {
		const member = brokerWith({ TRANSPORTER: amqpUrl, NAMESPACE: namespace, NODEID: `member-${uniqueSuffix()}` });
		await member.start();
		try {
			await waitFor("the member to know the api", () => member.registry.getServiceList({}).some(s => s.name === "api"));
			const route = { path: "/pwn", authentication: false, aliases: { "GET orders": "orders.list" } };
			await expect(member.call("api.addRoute", { route })).rejects.toMatchObject({ type: "SERVICE_NOT_FOUND" });
			await expect(member.call("api.removeRoute", { path: "/api" })).rejects.toMatchObject({ type: "SERVICE_NOT_FOUND" });
		} finally {
			await member.stop();
		}
		expect((await front.anonymous().get("/pwn/orders")).status).toBe(404);
		expect((await front.anonymous().get("/api/orders")).status).toBe(401);
	});

	it("should dead-letter a forged order.processed with reason 'signature' and leave the order pending", async () => {
		const id = await createOrder("SKU-0051");
		const names = eventQueueNames(prefix, "orders", "order.processed");
		channel.sendToQueue(names.main, event("order.processed", { eventId: randomUUID(), orderId: id, status: "completed", occurredAt: new Date().toISOString() }), {
			persistent: true
		});
		const dead = await waitFor("the forged event in the dead-letter queue", async () => {
			const msg = await channel.get(names.deadLetter, { noAck: true });
			return msg && JSON.parse(packetBytes(msg.content).toString()).data?.orderId === id ? msg : undefined;
		});
		expect(String(dead.properties.headers?.[DeliveryHeaders.LastError])).toMatch(/^Bus packet rejected \(signature\)/);
		expect(await statusOf(id)).toBe("pending");
	});

	it("should keep a completed order's stock reserved when an order.cancelled is forged", async () => {
		const id = await createOrder("SKU-0052", 3);
		processor = await startProcessorNode({ TRANSPORTER: amqpUrl, NAMESPACE: namespace, PROCESSOR_DATABASE_URL: processorDb.url, METRICS_PORT: "0" });
		await waitFor("the order to complete", async () => (await statusOf(id)) === "completed", 30_000);
		const stock = async () => (await front.http().get("/api/admin/stock/SKU-0052")).body;
		const before = await stock();
		expect(before.reserved).toBe(3);

		const refusedBefore = rejected(processor.broker, "signature");
		const names = eventQueueNames(prefix, "processor", "order.cancelled");
		channel.sendToQueue(names.main, event("order.cancelled", { eventId: randomUUID(), orderId: id, reason: "forged", occurredAt: new Date().toISOString() }), {
			persistent: true
		});
		await waitFor("the forged cancellation to be refused", () => rejected(processor!.broker, "signature") > refusedBefore);
		expect(await stock()).toEqual(before);
		expect(await statusOf(id)).toBe("completed");
	});

	it("should keep running when an INFO packet forged with its node id claims a conflict", async () => {
		const refusedBefore = rejected(front.broker, "signature");
		const info = { ver: "5", sender: front.broker.nodeID, instanceID: "forged", services: [], ipList: [], hostname: "x", client: {}, seq: 99 };
		channel.publish(`${prefix}.INFO`, "", Buffer.from(JSON.stringify(info)));
		await waitFor("the forged INFO to be refused", () => rejected(front.broker, "signature") > refusedBefore);
		expect(front.broker.started).toBe(true);
		expect((await front.http().get("/api/health/live")).status).toBe(200);
	});

	it("should hand every packet, balanced events included, to the transmit middlewares' receive path", async () => {
		let events = 0;
		const options = createBrokerOptions(
			readEnvironment({ TRANSPORTER: amqpUrl, NAMESPACE: namespace, NODEID: `counting-${uniqueSuffix()}`, CLUSTER_SECRET: LOCAL_CLUSTER_SECRET, METRICS_PORT: "0", LOG_LEVEL: "fatal" })
		);
		// A transporterReceive middleware, as Moleculer's own transmit middlewares are written.
		const counter = {
			transporterReceive(next: (cmd: string, data: Buffer, s?: unknown) => unknown) {
				return (cmd: string, data: Buffer, s?: unknown) => {
					if (cmd === "EVENT") events++;
					return next(cmd, data, s);
				};
			}
		};
		const counting = new ServiceBroker({ ...options, middlewares: [...(options.middlewares ?? []), counter as never] });
		const seen: number[] = [];
		counting.createService({ name: "counter", events: { "bus.counted": { group: "counter", handler: (ctx: Context<{ n: number }>) => void seen.push(ctx.params.n) } } });
		await counting.start();
		// Moleculer's own count of the packets its transporter received (a transmit middleware too).
		const received = () => Number((counting.metrics.getMetric("moleculer.transporter.packets.received.total")?.snapshot()[0] as { value?: number } | undefined)?.value ?? 0);
		try {
			const receivedBefore = received();
			for (let n = 0; n < 20; n++) await front.broker.emit("bus.counted", { n }, { groups: ["counter"] });
			await waitFor("all 20 events to be handled", () => seen.length === 20);
			expect(events).toBe(20);
			expect(received() - receivedBefore).toBeGreaterThanOrEqual(20);
		} finally {
			await counting.stop();
		}
	});
});
