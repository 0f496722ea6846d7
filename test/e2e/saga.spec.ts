/**
 * The saga across two processes over the real RabbitMQ and PostgreSQL: cancellation before and
 * after the processor acted, expiry while the processor is away and its late answer, and each
 * order's merged history. Whatever the order in which the events arrive, no cancelled or expired
 * order keeps any stock.
 */
import { ServiceBroker } from "moleculer";
import { Cluster, type Items } from "./support/cluster";
import { apiFetch, LOCAL_CLUSTER_SECRET, queryDatabase, uniqueSuffix, waitFor } from "../support/services";
import { clusterKeys } from "../../lib/transport/packet-signing";
import { ReliableAmqpTransporter } from "../../lib/transport/reliable-amqp";

interface HistoryBody {
	orderId: string;
	complete: boolean;
	entries: Array<{ at: string; service: string; step: string; status: string; correlationId: string }>;
}

describe("Saga: cancellation, expiry and history across two processes", () => {
	const cluster = new Cluster();

	const cancel = async (id: string, body: Record<string, unknown> = {}) => {
		const res = await apiFetch(`${cluster.baseUrl}/api/orders/${id}/cancel`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify(body)
		});
		return { status: res.status, body: (await res.json()) as Record<string, unknown> };
	};
	const historyOf = async (id: string) => (await (await apiFetch(`${cluster.baseUrl}/api/orders/${id}/history`)).json()) as HistoryBody;
	const statusBecomes = (id: string, status: string) =>
		waitFor(`order ${id} to be ${status}`, async () => (await cluster.getOrder(id)).status === status, 60_000, 200);
	const stockOf = async (sku: string) =>
		(await queryDatabase<{ available: number; reserved: number }>(cluster.processorDb.url, "SELECT available, reserved FROM stock WHERE sku = $1", [sku]))[0];
	const liveReservations = async (id: string) =>
		(
			await queryDatabase<{ n: number }>(
				cluster.processorDb.url,
				"SELECT count(*)::int AS n FROM stock_reservations WHERE order_id = $1 AND released_at IS NULL",
				[id]
			)
		)[0].n;
	const recordStatus = async (id: string) =>
		(await queryDatabase<{ status: string }>(cluster.processorDb.url, "SELECT status FROM processing_records WHERE order_id = $1", [id]))[0]?.status;
	const queuesEmpty = async () => {
		for (const event of ["order.created", "order.processed", "order.cancelled", "order.compensated"] as const) {
			const channel = await cluster.channel();
			channel.on("error", () => undefined);
			// A queue nobody declared yet holds nothing (RabbitMQ answers 404 and closes the channel).
			const depth = await channel.checkQueue(cluster.queueName(event)).then(q => q.messageCount, () => 0);
			await channel.close().catch(() => undefined);
			if (depth > 0) return false;
		}
		return true;
	};
	/** reserved stock equals the live reservations, for every SKU */
	const stockMatchesReservations = async () =>
		queryDatabase(
			cluster.processorDb.url,
			`SELECT s.sku, s.reserved, coalesce(r.live, 0)::int AS live FROM stock s
			 LEFT JOIN (SELECT sku, sum(quantity) AS live FROM stock_reservations WHERE released_at IS NULL GROUP BY sku) r ON r.sku = s.sku
			 WHERE s.reserved <> coalesce(r.live, 0)`
		);
	const items = (sku: string, quantity = 2): Items => [{ sku, quantity, unitPrice: 3 }];

	beforeAll(() => cluster.start());
	afterAll(() => cluster.tearDown());

	it("should cancel an order the processor has not seen, and never take its stock", async () => {
		const before = await stockOf("SKU-0061");
		expect(await cluster.processor!.stop("SIGTERM")).toBe(0);
		const order = await cluster.post(items("SKU-0061"));

		const answer = await cancel(order.id, { reason: "changed my mind" });
		expect(answer.status).toBe(200);
		expect(answer.body.status).toBe("cancelled");

		await cluster.startProcessor();
		await waitFor("the processor to settle the cancelled order", async () => ["CANCELLED", "COMPENSATED"].includes((await recordStatus(order.id)) ?? ""), 60_000, 200);
		await waitFor("the queues to drain", queuesEmpty, 60_000, 200);
		expect(await liveReservations(order.id)).toBe(0);
		expect(await stockOf("SKU-0061")).toEqual(before);
		expect((await cluster.getOrder(order.id)).status).toBe("cancelled");

		const history = await historyOf(order.id);
		expect(history.complete).toBe(true);
		expect(history.entries.some(e => e.service === "processor")).toBe(true);
		expect(JSON.stringify(history)).toContain("changed my mind");
	});

	it("should compensate a completed order: the stock comes back and the order ends cancelled", async () => {
		const before = await stockOf("SKU-0062");
		const order = await cluster.post(items("SKU-0062", 3));
		await statusBecomes(order.id, "completed");
		expect((await stockOf("SKU-0062")).reserved).toBe(before.reserved + 3);

		const answer = await cancel(order.id);
		expect(answer.status).toBe(200);
		expect(["cancelling", "cancelled"]).toContain(answer.body.status);
		await statusBecomes(order.id, "cancelled");

		expect(await stockOf("SKU-0062")).toEqual(before);
		expect(await liveReservations(order.id)).toBe(0);
		expect(await recordStatus(order.id)).toBe("COMPENSATED");
		expect((await cancel(order.id)).status).toBe(200);

		const history = await historyOf(order.id);
		expect(history.complete).toBe(true);
		const times = history.entries.map(e => Date.parse(e.at));
		expect(times).toEqual([...times].sort((a, b) => a - b));
		expect(new Set(history.entries.map(e => e.service))).toEqual(new Set(["orders", "processor"]));
		expect(history.entries.filter(e => e.service === "orders").at(-1)?.status).toBe("cancelled");
	});

	it("should refuse to cancel a failed order with 409, saying why", async () => {
		const order = await cluster.post([{ sku: "SKU-NOPE", quantity: 1, unitPrice: 1 }]);
		await statusBecomes(order.id, "failed");
		const answer = await cancel(order.id);
		expect(answer.status).toBe(409);
		expect(String(answer.body.detail)).toContain("failed");
	});

	it("should carry a request's X-Correlation-Id to its answer, both nodes' logs, the order's history and a dead letter", async () => {
		const correlationId = `e2e-trace-${uniqueSuffix()}`;
		const res = await apiFetch(`${cluster.baseUrl}/api/orders`, {
			method: "POST",
			headers: { "Content-Type": "application/json", "X-Correlation-Id": correlationId },
			body: JSON.stringify({ customerId: "e2e", items: items("SKU-0064"), currency: "EUR" })
		});
		expect(res.status).toBe(201);
		expect(res.headers.get("x-correlation-id")).toBe(correlationId);
		const order = (await res.json()) as { id: string; correlationId: string };
		expect(order.correlationId).toBe(correlationId);
		await statusBecomes(order.id, "completed");

		// Each node's log lines about the order name the correlation id.
		const linesOf = (output: string | undefined) =>
			(output ?? "")
				.split("\n")
				.filter(line => line.includes(correlationId))
				.map(line => JSON.parse(line) as { msg?: string; message?: string; correlationId?: string; orderId?: string });
		await waitFor("both nodes to log the order", async () => linesOf(cluster.front?.output()).length > 0 && linesOf(cluster.processor?.output()).length > 0);
		for (const node of [cluster.front, cluster.processor]) {
			const lines = linesOf(node?.output());
			expect(lines.length).toBeGreaterThan(0);
			for (const line of lines) expect(line).toMatchObject({ correlationId, orderId: order.id });
		}

		// Every step of its history, in both services, names it.
		const history = await historyOf(order.id);
		expect(history.complete).toBe(true);
		expect(new Set(history.entries.map(e => e.service))).toEqual(new Set(["orders", "processor"]));
		for (const entry of history.entries) expect(entry.correlationId).toBe(correlationId);

		// An order.created of that request which the processor refuses is dead-lettered with it.
		const sender = new ServiceBroker({
			namespace: cluster.namespace,
			nodeID: `e2e-sender-${uniqueSuffix()}`,
			transporter: new ReliableAmqpTransporter({
				url: cluster.vhost.url,
				policy: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 1000 },
				signing: { keys: clusterKeys(LOCAL_CLUSTER_SECRET) }
			}),
			disableBalancer: true,
			logger: false
		});
		await sender.start();
		try {
			const refused = { orderId: order.id, correlationId, items: [] };
			await sender.emit("order.created", refused, { groups: ["processor"], meta: { correlationId }, throwError: true } as never);
		} finally {
			await sender.stop();
		}
		const dead = await waitFor(
			"the refused event's dead letter",
			async () => {
				const list = await apiFetch(`${cluster.baseUrl}/api/admin/dead-letters?orderId=${order.id}`);
				return ((await list.json()) as { rows: Array<Record<string, unknown>> }).rows?.[0];
			},
			30_000,
			200
		);
		expect(dead).toMatchObject({ event: "order.created", group: "processor", orderId: order.id, correlationId, errorName: "ValidationError" });
		await apiFetch(`${cluster.baseUrl}/api/admin/dead-letters?orderId=${order.id}`, { method: "DELETE" });
	});

	it("should expire an order no answer reached in time, and release what the late processor reserved", async () => {
		expect(await cluster.front!.stop("SIGTERM")).toBe(0);
		await cluster.startFront({ ORDER_TIMEOUT_MS: "1500" });
		expect(await cluster.processor!.stop("SIGTERM")).toBe(0);
		const before = await stockOf("SKU-0063");

		const order = await cluster.post(items("SKU-0063"));
		await statusBecomes(order.id, "expired");
		expect((await cancel(order.id)).status).toBe(409);

		await cluster.startProcessor();
		await waitFor("the processor to compensate the expired order", async () => ["CANCELLED", "COMPENSATED"].includes((await recordStatus(order.id)) ?? ""), 60_000, 200);
		await waitFor("the queues to drain", queuesEmpty, 60_000, 200);
		await waitFor("the stock to come back", async () => (await stockOf("SKU-0063")).reserved === before.reserved, 30_000, 200);
		expect(await stockOf("SKU-0063")).toEqual(before);
		expect((await cluster.getOrder(order.id)).status).toBe("expired");
		expect(await stockMatchesReservations()).toEqual([]);
	});
});
