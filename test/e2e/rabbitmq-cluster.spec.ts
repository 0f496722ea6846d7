/**
 * The product on a three-node RabbitMQ cluster of its own (test/support/rabbitmq-cluster.ts), with
 * quorum queues and every node given the three URLs: the node that leads the processor's
 * `order.created` queue is shut down in the middle of a stream of orders, and every order still
 * ends once, with nothing left in the queues.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { ConsumerGroups } from "../../lib/contracts/events";
import { eventQueueNames } from "../../lib/transport/reliable-amqp";
import { ProductCluster } from "../support/cluster";
import { RabbitMqCluster, rabbitmqCommand } from "../support/rabbitmq-cluster";
import { apiFetch, queryDatabase, waitFor } from "../support/services";

const haveRabbitMq = rabbitmqCommand("rabbitmq-server") !== undefined;
const underCi = process.env.CI === "true";
const MISSING = "rabbitmq-server is missing (Debian: apt-get install rabbitmq-server)";
if (!haveRabbitMq && !underCi) console.warn(`Not run: test/e2e/rabbitmq-cluster.spec.ts: ${MISSING}.`);
const describeWithRabbitMq = haveRabbitMq || underCi ? describe : describe.skip;

interface Sent {
	id: string;
	sku: string;
	quantity: number;
}

/** `rabbitmqctl status` of the machine's own broker succeeds (its node name, from its own config). */
function machineBrokerAnswers(): boolean {
	const out = execFileSync(rabbitmqCommand("rabbitmqctl") ?? "rabbitmqctl", ["status"], { encoding: "utf8", timeout: 60_000 });
	return /RabbitMQ version/.test(out);
}

describeWithRabbitMq("The product on a three-node RabbitMQ cluster with quorum queues", () => {
	const rabbit = new RabbitMqCluster(3);
	let product: ProductCluster;
	const started = Date.now();

	beforeAll(async () => {
		if (!haveRabbitMq) throw new Error(`CI=true and ${MISSING}.`);
		expect(machineBrokerAnswers()).toBe(true);
		await rabbit.start();
		product = new ProductCluster({
			label: "rmq",
			env: { TRANSPORTER: rabbit.urls().join(","), QUEUE_TYPE: "quorum", RETRY_BASE_DELAY_MS: "200" }
		});
		await product.setUp();
		product.startNode("api+orders", { SERVICES: "api,orders" });
		product.startNode("processor-1", { SERVICES: "processor" });
		product.startNode("processor-2", { SERVICES: "processor" });
		await product.waitReady();
	}, 150_000);

	afterAll(async () => {
		await product?.tearDown();
		await rabbit.tearDown();
	}, 60_000);

	/**
	 * Posts orders four at a time, each retried with its Idempotency-Key: `before` of them, then, with
	 * `during` running, on until it has finished and every product node has reconnected, then `after` more.
	 */
	async function stream(before: number, after: number, during: () => Promise<void>): Promise<Sent[]> {
		const sent: Sent[] = [];
		let next = 0;
		let fired: Promise<void> | undefined;
		let done = false;
		let afterReconnect = 0;
		const worker = async () => {
			while (afterReconnect < after) {
				const n = next++;
				if (n === before) fired = during().then(() => void (done = true));
				const sku = n % 10 === 9 ? `SKU-NOPE-${n}` : `SKU-00${50 + (n % 5)}`;
				const quantity = 1 + (n % 3);
				const settled = done && allReconnected();
				sent.push({ id: await postReliably(sku, quantity, `rmq-${randomUUID()}`), sku, quantity });
				if (settled) afterReconnect++;
				// Between the shutdown and the reconnections orders go on at a pace, not all at once.
				else if (n >= before) await new Promise(resolve => setTimeout(resolve, 100));
			}
		};
		await Promise.all([worker(), worker(), worker(), worker()]);
		await fired;
		return sent;
	}

	/** True once every product node has connected to the broker a second time. */
	function allReconnected(): boolean {
		return product.nodes.every(node => node.output().split('"message":"AMQP is connected."').length - 1 >= 2);
	}

	/** Creates an order, retrying a network error or a 5xx with the same Idempotency-Key (one order however many attempts). */
	async function postReliably(sku: string, quantity: number, key: string): Promise<string> {
		const body = JSON.stringify({ customerId: "e2e", items: [{ sku, quantity, unitPrice: 2 }], currency: "EUR" });
		const deadline = Date.now() + 60_000;
		for (;;) {
			const res = await apiFetch(`${product.baseUrl}/api/orders`, {
				method: "POST",
				headers: { "Content-Type": "application/json", "Idempotency-Key": key },
				body,
				signal: AbortSignal.timeout(20_000)
			}).catch(() => undefined);
			if (res?.status === 201) return ((await res.json()) as { id: string }).id;
			if (res && res.status < 500) throw new Error(`POST /api/orders answered ${res.status}: ${await res.text()}`);
			if (Date.now() > deadline) throw new Error(`POST /api/orders kept failing (last: ${res?.status ?? "no answer"})`);
			await new Promise(resolve => setTimeout(resolve, 200));
		}
	}

	function orderCreatedQueue(): string {
		return eventQueueNames(`MOL-${product.namespace}`, ConsumerGroups["order.created"], "order.created").main;
	}

	it("should finish every accepted order once when the node leading the order.created queue is shut down mid-stream", async () => {
		const queue = orderCreatedQueue();
		const state = (await rabbit.queues()).find(q => q.name === queue);
		expect(state).toMatchObject({ type: "quorum" });
		const leader = rabbit.node(state!.leader);

		const sent = await stream(20, 10, () => rabbit.stopNode(leader));
		const ids = sent.map(o => o.id);
		expect(new Set(ids).size).toBe(sent.length);
		expect(allReconnected()).toBe(true);

		const statuses = await waitFor(
			`${ids.length} orders to finish`,
			async () => {
				const rows = await queryDatabase<{ id: string; status: string }>(product.ordersDb.url, "SELECT id, status FROM orders WHERE id = ANY($1)", [ids]);
				return rows.length === ids.length && rows.every(r => r.status !== "pending") ? new Map(rows.map(r => [r.id, r.status])) : null;
			},
			90_000,
			250
		).catch(err => {
			throw new Error(`${(err as Error).message}\n${product.nodes.map(n => `--- ${n.name} ---\n${n.output().slice(-4000)}`).join("\n")}`);
		});

		const records = await queryDatabase<{ order_id: string; n: number }>(
			product.processorDb.url,
			"SELECT order_id, count(*)::int AS n FROM processing_records WHERE order_id = ANY($1) GROUP BY order_id",
			[ids]
		);
		const reservations = new Map(
			(
				await queryDatabase<{ order_id: string; quantity: number }>(
					product.processorDb.url,
					"SELECT order_id, sum(quantity)::int AS quantity FROM stock_reservations WHERE order_id = ANY($1) GROUP BY order_id",
					[ids]
				)
			).map(r => [r.order_id, r.quantity])
		);
		expect(records).toHaveLength(ids.length);
		expect(records.filter(r => r.n !== 1)).toEqual([]);
		for (const order of sent) {
			const expected = order.sku.startsWith("SKU-NOPE") ? { status: "failed", reserved: undefined } : { status: "completed", reserved: order.quantity };
			expect({ id: order.id, status: statuses.get(order.id), reserved: reservations.get(order.id) }).toEqual({ id: order.id, ...expected });
		}

		// Every queue of the run, on the two nodes left, ends empty: the event, retry and dead-letter
		// queues (quorum) and Moleculer's own (transient classic, made again where the nodes reconnected).
		const prefix = `MOL-${product.namespace}.`;
		const left = await waitFor(
			"the run's queues to be empty",
			async () => {
				const queues = (await rabbit.queues()).filter(q => q.name.startsWith(prefix));
				return queues.length > 0 && queues.every(q => q.messages === 0) ? queues : null;
			},
			30_000,
			500
		);
		const quorum = left.filter(q => q.type === "quorum");
		expect(quorum.map(q => q.name)).toContain(queue);
		const after = quorum.find(q => q.name === queue)!;
		expect(after.leader).not.toBe(leader.name);

		console.log(
			`rabbitmq-cluster: ${sent.length} orders accepted, ${[...statuses.values()].filter(s => s === "completed").length} completed, ` +
				`${[...statuses.values()].filter(s => s === "failed").length} failed, ${records.filter(r => r.n !== 1).length} processed twice; ` +
				`leader ${leader.name} shut down, now ${after.leader}; ${left.length} queues (${quorum.length} quorum), ${left.reduce((n, q) => n + q.messages, 0)} messages; ` +
				`${Math.round((Date.now() - started) / 1000)} s since the file started`
		);
	}, 150_000);

	it("should leave the machine's own broker running", () => {
		expect(machineBrokerAnswers()).toBe(true);
	});
});
