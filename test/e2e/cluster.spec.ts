/**
 * A two-node cluster as deployed: `api,orders` in one process, `processor` in another, over the real
 * RabbitMQ, each service on its own real PostgreSQL database.
 */
import { apiFetch, freePort, queryDatabase, uniqueSuffix, waitFor } from "../support/services";
import { eventQueueNames } from "../../lib/transport/reliable-amqp";
import { Cluster } from "./support/cluster";
import { startNode } from "../support/processes";

describe("Cluster of two processes over RabbitMQ", () => {
	const cluster = new Cluster();

	beforeAll(() => cluster.start());
	afterAll(() => cluster.tearDown());

	it("should complete orders the stock can serve and fail the others with the SKU named", async () => {
		const ok = await Promise.all([1, 2, 3].map(q => cluster.post([{ sku: "SKU-0010", quantity: q, unitPrice: 2.5 }])));
		const bad = await cluster.post([{ sku: "SKU-NOPE", quantity: 1, unitPrice: 1 }]);
		expect([...ok, bad].every(o => o.status === "pending")).toBe(true);

		const statuses = await cluster.allFinal([...ok, bad].map(o => o.id));
		expect(ok.map(o => statuses.get(o.id))).toEqual(["completed", "completed", "completed"]);
		expect(await cluster.getOrder(bad.id)).toMatchObject({ status: "failed", errorMessage: "Unknown SKU 'SKU-NOPE'." });
	});

	it("should keep orders made while the processor is down in a queue that does not expire, and finish them when it is back", async () => {
		expect(await cluster.processor!.stop("SIGTERM")).toBe(0);

		const waiting = await Promise.all([1, 2, 3, 4, 5].map(q => cluster.post([{ sku: "SKU-0011", quantity: q, unitPrice: 1 }])));
		const channel = await cluster.channel();
		const queue = cluster.queueName("order.created");
		await waitFor("5 events in the processor's queue", async () => (await channel.checkQueue(queue)).messageCount === 5);
		expect((await Promise.all(waiting.map(o => cluster.getOrder(o.id)))).map(o => o.status)).toEqual(Array(5).fill("pending"));

		// RabbitMQ refuses a redeclaration whose arguments differ: the queue has no x-expires, so it
		// outlives any time without consumers (Moleculer's default would delete it after 2 minutes).
		const probe = await cluster.channel();
		probe.on("error", () => undefined);
		await expect(probe.assertQueue(queue, { durable: true, arguments: { "x-expires": 120_000 } })).rejects.toThrow(
			/PRECONDITION_FAILED.*x-expires/
		);
		await channel.close();

		await cluster.startProcessor();
		const statuses = await cluster.allFinal(waiting.map(o => o.id));
		expect(waiting.map(o => statuses.get(o.id))).toEqual(Array(5).fill("completed"));

		const records = await queryDatabase<{ n: number; orders: number }>(
			cluster.processorDb.url,
			"SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders FROM processing_records"
		);
		expect(records).toEqual([{ n: 9, orders: 9 }]);
		const stock = await queryDatabase<{ reserved: number }>(cluster.processorDb.url, "SELECT reserved FROM stock WHERE sku = 'SKU-0011'");
		expect(stock).toEqual([{ reserved: 15 }]);
	});

	it("should refuse to start on an event queue left by Moleculer's stock transporter, saying what to do", async () => {
		const namespace = `${cluster.namespace}old`;
		const queue = eventQueueNames(`MOL-${namespace}`, "processor", "order.created").main;
		const channel = await cluster.channel();
		await channel.assertQueue(queue, { durable: true, arguments: { "x-expires": 120_000 } });
		await channel.close();

		const node = startNode("processor-old-queue", { ...cluster.nodeEnv(), NAMESPACE: namespace, SERVICES: "processor" });
		expect(await node.exitWithin(60_000)).toBe(1);
		expect(node.output()).toContain(`Queue '${queue}' exists with other arguments`);
	});

	it("should answer 503 at once, and never create the order later, while the orders node is killed and an api-only node takes the request", async () => {
		const port = await freePort();
		const gateway = startNode("api-only", { ...cluster.nodeEnv(), SERVICES: "api", PORT: String(port), NODEID: `api-${uniqueSuffix()}` });
		const base = `http://127.0.0.1:${port}`;
		const count = async () => ((await (await apiFetch(`${base}/api/orders?pageSize=1`)).json()) as { total: number }).total;
		try {
			// The api-only node knows the orders node: it lists orders through it.
			await waitFor("the api-only node to serve orders", async () => (await apiFetch(`${base}/api/orders?pageSize=1`).catch(() => undefined))?.status === 200, 60_000, 200);
			const before = await count();

			await cluster.front!.stop("SIGKILL");
			// RabbitMQ drops a killed node's consumers at once; Moleculer's registry keeps it ~25 s.
			const channel = await cluster.channel();
			await waitFor("the orders node's consumers to be gone", async () => (await channel.checkQueue(`MOL-${cluster.namespace}.REQB.orders.create`)).consumerCount === 0);
			await channel.close();
			const body = JSON.stringify({ customerId: "e2e", items: [{ sku: "SKU-0012", quantity: 1, unitPrice: 1 }], currency: "EUR" });
			const attempts = await Promise.all(
				[1, 2, 3].map(() => apiFetch(`${base}/api/orders`, { method: "POST", headers: { "Content-Type": "application/json" }, body }))
			);
			expect(attempts.map(res => res.status)).toEqual([503, 503, 503]);
			expect(((await attempts[0].json()) as { type: string }).type).toMatch(/service-unavailable$/);

			await cluster.startFront();
			await waitFor("the api-only node to serve orders again", async () => (await apiFetch(`${base}/api/orders?pageSize=1`).catch(() => undefined))?.status === 200, 60_000, 200);
			const queue = await cluster.channel();
			expect((await queue.checkQueue(`MOL-${cluster.namespace}.REQB.orders.create`)).messageCount).toBe(0);
			await queue.close();
			expect(await count()).toBe(before);
		} finally {
			await gateway.stop("SIGKILL");
		}
	});

	it("should stop both nodes cleanly on SIGTERM", async () => {
		expect(await cluster.processor!.stop("SIGTERM")).toBe(0);
		expect(await cluster.front!.stop("SIGTERM")).toBe(0);
		expect(cluster.front!.output()).toMatch(/"message":"ServiceBroker is stopped. Good bye."/);
	});
});
