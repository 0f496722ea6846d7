/**
 * A two-node cluster as deployed: `api,orders` in one process, `processor` in another, over the real
 * RabbitMQ, each service on its own real PostgreSQL database.
 */
import amqp, { type ChannelModel } from "amqplib";
import { eventQueueNames } from "../../lib/transport/reliable-amqp";
import {
	createTestDatabase,
	createTestVhost,
	queryDatabase,
	uniqueSuffix,
	waitFor,
	type TestDatabase,
	type TestVhost
} from "../support/services";
import { freePort, startNode, type NodeProcess } from "./support/processes";

interface OrderBody {
	id: string;
	status: string;
	errorMessage: string | null;
}

describe("Cluster of two processes over RabbitMQ", () => {
	let vhost: TestVhost;
	let ordersDb: TestDatabase;
	let processorDb: TestDatabase;
	let amqpConnection: ChannelModel;
	let baseUrl: string;
	let front: NodeProcess;
	let processor: NodeProcess | undefined;
	let common: Record<string, string>;
	const namespace = `e2e${uniqueSuffix()}`;
	const orderCreatedQueue = eventQueueNames(`MOL-${namespace}`, "processor", "order.created").main;

	const post = async (items: Array<{ sku: string; quantity: number; unitPrice: number }>): Promise<OrderBody> => {
		const res = await fetch(`${baseUrl}/api/orders`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ customerId: "e2e", items, currency: "EUR" })
		});
		expect(res.status).toBe(201);
		return (await res.json()) as OrderBody;
	};
	const getOrder = async (id: string): Promise<OrderBody> => (await (await fetch(`${baseUrl}/api/orders/${id}`)).json()) as OrderBody;
	const allFinal = (ids: string[]) =>
		waitFor(`orders ${ids.join(", ")} to finish`, async () => {
			const orders = await Promise.all(ids.map(getOrder));
			return orders.every(o => o.status !== "pending") ? orders : null;
		}, 60_000, 250);
	const startProcessor = async () => {
		processor = startNode("processor", { ...common, SERVICES: "processor", NODEID: `processor-${uniqueSuffix()}` });
		let lastAnswer = "";
		await waitFor(
			"the cluster to be ready with the processor",
			async () => {
				const res = await fetch(`${baseUrl}/api/health/ready`);
				lastAnswer = await res.text();
				return res.status === 200;
			},
			60_000,
			250
		).catch(err => {
			throw new Error(`${err.message}\nlast answer: ${lastAnswer}\n--- processor output ---\n${processor?.output()}\n--- api+orders output ---\n${front.output()}`);
		});
	};

	beforeAll(async () => {
		vhost = createTestVhost();
		[ordersDb, processorDb] = await Promise.all([createTestDatabase("e2e_orders"), createTestDatabase("e2e_processor")]);
		amqpConnection = await amqp.connect(vhost.url);
		const port = await freePort();
		baseUrl = `http://127.0.0.1:${port}`;
		common = {
			TRANSPORTER: vhost.url,
			NAMESPACE: namespace,
			ORDERS_DATABASE_URL: ordersDb.url,
			PROCESSOR_DATABASE_URL: processorDb.url
		};
		front = startNode("api+orders", { ...common, SERVICES: "api,orders", PORT: String(port), NODEID: `front-${uniqueSuffix()}` });
		await waitFor("the api to listen", async () => (await fetch(`${baseUrl}/api/health/live`)).ok, 60_000, 250).catch(err => {
			throw new Error(`${err.message}\n--- api+orders output ---\n${front.output()}`);
		});
		await startProcessor();
	});

	afterAll(async () => {
		await processor?.stop("SIGKILL");
		await front?.stop("SIGKILL");
		await amqpConnection?.close();
		await vhost?.remove();
		await Promise.all([ordersDb?.drop(), processorDb?.drop()]);
	});

	it("should complete orders the stock can serve and fail the others with the SKU named", async () => {
		const ok = await Promise.all([1, 2, 3].map(q => post([{ sku: "SKU-0010", quantity: q, unitPrice: 2.5 }])));
		const bad = await post([{ sku: "SKU-NOPE", quantity: 1, unitPrice: 1 }]);
		expect([...ok, bad].every(o => o.status === "pending")).toBe(true);

		const finals = await allFinal([...ok, bad].map(o => o.id));
		expect(finals.slice(0, 3).map(o => o.status)).toEqual(["completed", "completed", "completed"]);
		expect(finals[3]).toMatchObject({ status: "failed", errorMessage: "Unknown SKU 'SKU-NOPE'." });
	});

	it("should keep orders made while the processor is down in a queue that does not expire, and finish them when it is back", async () => {
		expect(await processor!.stop("SIGTERM")).toBe(0);

		const waiting = await Promise.all([1, 2, 3, 4, 5].map(q => post([{ sku: "SKU-0011", quantity: q, unitPrice: 1 }])));
		const channel = await amqpConnection.createChannel();
		await waitFor("5 events in the processor's queue", async () => (await channel.checkQueue(orderCreatedQueue)).messageCount === 5);
		expect((await Promise.all(waiting.map(o => getOrder(o.id)))).map(o => o.status)).toEqual(Array(5).fill("pending"));

		// RabbitMQ refuses a redeclaration whose arguments differ: the queue has no x-expires, so it
		// outlives any time without consumers (Moleculer's default would delete it after 2 minutes).
		const probe = await amqpConnection.createChannel();
		probe.on("error", () => undefined);
		await expect(probe.assertQueue(orderCreatedQueue, { durable: true, arguments: { "x-expires": 120_000 } })).rejects.toThrow(
			/PRECONDITION_FAILED.*x-expires/
		);
		await channel.close();

		await startProcessor();
		const finals = await allFinal(waiting.map(o => o.id));
		expect(finals.map(o => o.status)).toEqual(Array(5).fill("completed"));

		const records = await queryDatabase<{ n: number; orders: number }>(
			processorDb.url,
			"SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders FROM processing_records"
		);
		expect(records).toEqual([{ n: 9, orders: 9 }]);
		const stock = await queryDatabase<{ reserved: number }>(processorDb.url, "SELECT reserved FROM stock WHERE sku = 'SKU-0011'");
		expect(stock).toEqual([{ reserved: 15 }]);
	});

	it("should stop both nodes cleanly on SIGTERM", async () => {
		expect(await processor!.stop("SIGTERM")).toBe(0);
		expect(await front.stop("SIGTERM")).toBe(0);
		expect(front.output()).toMatch(/"message":"ServiceBroker is stopped. Good bye."/);
	});
});
