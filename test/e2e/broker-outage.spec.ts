/**
 * RabbitMQ away for the `api,orders` node: orders keep coming in (the orders service is in the same
 * process, and its outbox holds their events), a request for a service of another node answers 503
 * at once, and once the broker is back every order finishes, once. The broker is taken away from
 * that one node only, through a TCP proxy: the broker itself, and every other test, is untouched.
 */
import { apiFetch, freePort, queryDatabase, waitFor } from "../support/services";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";
import { Cluster } from "./support/cluster";

describe("An api,orders node while RabbitMQ is away", () => {
	const cluster = new Cluster();
	let proxy: TcpProxy;

	let metricsUrl = "";

	/** The front's readiness with its checks, from its metrics port (the public answer names none). */
	const ready = async () => {
		const res = await fetch(`${metricsUrl}/health/ready`);
		return { status: res.status, body: (await res.json()) as { checks?: Record<string, string> } };
	};

	beforeAll(async () => {
		await cluster.setUp();
		const broker = new URL(cluster.vhost.url);
		proxy = await startTcpProxy(broker.hostname, Number(broker.port || 5672));
		broker.host = `127.0.0.1:${proxy.port}`;
		const metricsPort = await freePort();
		metricsUrl = `http://127.0.0.1:${metricsPort}`;
		await cluster.startFront({ TRANSPORTER: broker.toString(), METRICS_PORT: String(metricsPort) });
		await cluster.startProcessor();
	});
	afterAll(async () => {
		await cluster.tearDown();
		await proxy?.close();
	});

	it("should take the orders, answer 503 at once for remote work, and finish every order once the broker is back", async () => {
		proxy.down();
		await waitFor("the front to see the broker gone", async () => (await ready()).body.checks?.broker === "disconnected");

		const attempts = await Promise.all(
			Array.from({ length: 40 }, (_, i) =>
				apiFetch(`${cluster.baseUrl}/api/orders`, {
					method: "POST",
					headers: { "Content-Type": "application/json" },
					body: JSON.stringify({ customerId: "outage", items: [{ sku: "SKU-0020", quantity: 1 + (i % 3), unitPrice: 1 }], currency: "EUR" })
				})
			)
		);
		const accepted = attempts.filter(res => res.status === 201);
		expect(accepted.length).toBeGreaterThanOrEqual(38);
		const ids = await Promise.all(accepted.map(async res => ((await res.json()) as { id: string }).id));

		// The stock lives in the processor, another node: no broker, no answer — said at once.
		const started = Date.now();
		const remote = await apiFetch(`${cluster.baseUrl}/api/admin/stock/SKU-0020`);
		expect(remote.status).toBe(503);
		expect(remote.headers.get("content-type")).toContain("application/problem+json");
		expect(Date.now() - started).toBeLessThan(5000);

		proxy.up();
		const statuses = await cluster.allFinal(ids);
		expect([...statuses.values()].every(status => status === "completed")).toBe(true);

		const { records } = await cluster.processorEffects(ids);
		expect(records).toHaveLength(ids.length);
		expect(records.every(r => r.n === 1)).toBe(true);

		const unsent = async (url: string) =>
			(await queryDatabase<{ n: number }>(url, "SELECT count(*)::int AS n FROM outbox_events WHERE sent_at IS NULL"))[0].n;
		expect(await unsent(cluster.ordersDb.url)).toBe(0);
		await waitFor("the processor's outbox to be empty", async () => (await unsent(cluster.processorDb.url)) === 0);
		const channel = await cluster.channel();
		for (const event of ["order.created", "order.processed"] as const) {
			await waitFor(`${event}'s queue to be empty`, async () => (await channel.checkQueue(cluster.queueName(event))).messageCount === 0);
		}
		await channel.close();
	});

	it("should stay ready with every processor stopped: its own work is taking orders, which the queue holds", async () => {
		expect(await cluster.processor!.stop("SIGTERM")).toBe(0);
		const answer = await ready();
		expect(answer.status).toBe(200);
		expect(answer.body.checks).toEqual({ ordersDatabase: "ok", ordersOutbox: "ok", broker: "ok" });
		expect((await apiFetch(`${cluster.baseUrl}/api/health/ready`)).status).toBe(200);

		const waiting = await cluster.post([{ sku: "SKU-0021", quantity: 1, unitPrice: 1 }]);
		await cluster.startProcessor();
		expect((await cluster.allFinal([waiting.id])).get(waiting.id)).toBe("completed");
	});
});
