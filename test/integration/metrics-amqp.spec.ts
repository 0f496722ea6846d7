/**
 * The delivery metrics with the real RabbitMQ (reliable-amqp) and PostgreSQL, as an operator
 * scrapes them: a failing handler's retry and dead letter counted with their event, group and
 * reason, the dead-letter queue's depth, and readiness turning 503 while the outbox lags past
 * READY_MAX_OUTBOX_LAG_S, 200 again once it drained.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { ReadinessReport } from "../../lib/health/readiness";
import { startSystem, type RunningSystem } from "../support/system";
import { createTestDatabase, createTestVhost, uniqueSuffix, waitFor, type TestDatabase, type TestVhost } from "../support/services";

/** The value of the sample of `name` with exactly these labels (namespace and nodeID aside). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
	const want = JSON.stringify(Object.entries(labels).sort());
	for (const line of text.split("\n")) {
		const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		if (!match || match[1] !== name) continue;
		const found = Object.fromEntries([...(match[2] ?? "").matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
		delete found.namespace;
		delete found.nodeID;
		if (JSON.stringify(Object.entries(found).sort()) === want) return Number(match[3]);
	}
	return undefined;
}

describe("Delivery metrics and readiness with RabbitMQ", () => {
	let vhost: TestVhost;
	let ordersDb: TestDatabase;
	let processorDb: TestDatabase;
	let system: RunningSystem;
	let metricsUrl: string;
	const failing = new Set<string>();
	const api = () => system.http();
	const scrape = async () => (await fetch(metricsUrl)).text();
	const createOrder = async () => {
		const res = await api()
			.post("/api/orders")
			.send({ customerId: "metrics-customer", items: [{ sku: "SKU-0030", quantity: 1, unitPrice: 1 }], currency: "EUR" });
		expect(res.status).toBe(201);
		return res.body.id as string;
	};

	beforeAll(async () => {
		vhost = createTestVhost();
		[ordersDb, processorDb] = await Promise.all([createTestDatabase("metrics_orders"), createTestDatabase("metrics_processor")]);
		system = await startSystem({
			env: {
				TRANSPORTER: vhost.url,
				NAMESPACE: `mx${uniqueSuffix()}`,
				ORDERS_DATABASE_URL: ordersDb.url,
				PROCESSOR_DATABASE_URL: processorDb.url,
				METRICS_PORT: "0",
				RETRY_MAX_ATTEMPTS: "3",
				RETRY_BASE_DELAY_MS: "200",
				READY_MAX_OUTBOX_LAG_S: "2"
			}
		});
		const reporter = (system.broker.metrics as unknown as { reporter: Array<{ server: Server }> }).reporter[0];
		await waitFor("the metrics endpoint to listen", async () => reporter.server.listening);
		metricsUrl = `http://127.0.0.1:${(reporter.server.address() as AddressInfo).port}/metrics`;
		// The processor's store is away for the orders in `failing`: each run fails with a passing fault.
		const processor = (system.service("processor") as unknown as { saga: { processOrder(event: { orderId: string }): Promise<void> } }).saga;
		const processOrder = processor.processOrder.bind(processor);
		processor.processOrder = async event => {
			if (failing.has(event.orderId)) throw new Error("The stock store is away.");
			return processOrder(event);
		};
	});

	afterAll(async () => {
		await system?.stop();
		await vhost?.remove();
		await Promise.all([ordersDb?.drop(), processorDb?.drop()]);
	});

	it("should count each retry of a failing handler and its dead letter with event, group and reason, and show the dead-letter queue's depth", async () => {
		let text = await scrape();
		const labels = { event: "order.created", group: "processor" };
		expect(sample(text, "event_retries_total", labels)).toBe(0);
		expect(sample(text, "dead_letters_total", { ...labels, reason: "transient" })).toBe(0);
		expect(sample(text, "dead_letters_pending", labels)).toBe(0);

		// The order's id is known only once it exists: fail every order from now on, then let the others go.
		const processor = (system.service("processor") as unknown as { saga: { processOrder(event: { orderId: string }): Promise<void> } }).saga;
		const wrapped = processor.processOrder;
		processor.processOrder = async event => {
			failing.add(event.orderId);
			processor.processOrder = wrapped;
			return wrapped(event);
		};
		const id = await createOrder();
		await waitFor(`the dead letter of order ${id}`, async () => (await api().get(`/api/admin/dead-letters?orderId=${id}`)).body.rows?.[0]);
		expect(failing).toEqual(new Set([id]));

		await waitFor(
			"the retries, the dead letter and the queue's depth on /metrics",
			async () => {
				text = await scrape();
				return sample(text, "dead_letters_total", { ...labels, reason: "transient" }) === 1 && sample(text, "dead_letters_pending", labels) === 1;
			},
			20_000
		);
		// RETRY_MAX_ATTEMPTS=3: two retries, then the dead letter.
		expect(sample(text, "event_retries_total", labels)).toBe(2);
		expect(sample(text, "dead_letters_total", { ...labels, reason: "validation" })).toBe(0);
		expect(sample(text, "dead_letters_pending", { event: "order.processed", group: "orders" })).toBe(0);
		expect(text).not.toContain(id);

		// Purged, the dead letter leaves the depth at once.
		await api().delete(`/api/admin/dead-letters?orderId=${id}`).expect(200);
		await waitFor("the depth back to 0", async () => sample(await scrape(), "dead_letters_pending", labels) === 0, 10_000);
	});

	it("should answer 503 while the oldest unpublished event is older than READY_MAX_OUTBOX_LAG_S, and 200 once it is published", async () => {
		// The details are on the metrics port; the public answer says ok or not, and nothing else.
		const ready = async () => {
			const res = await fetch(`${system.metricsBaseUrl}/health/ready`);
			return { status: res.status, body: (await res.json()) as Required<ReadinessReport> };
		};
		await waitFor("readiness", async () => (await ready()).status === 200);
		expect((await ready()).body).toMatchObject({ checks: { broker: "ok", ordersOutbox: "ok", processorOutbox: "ok" } });

		type Relay = { outboxStopped: boolean; wakeOutboxRelay(): void };
		const relay = system.service("orders") as unknown as Relay;
		relay.outboxStopped = true;
		let id = "";
		try {
			id = await createOrder();
			const lagging = await waitFor("readiness to turn 503", async () => {
				const res = await ready();
				return res.status === 503 ? res : undefined;
			});
			expect(lagging.body).toMatchObject({
				status: "unavailable",
				checks: { broker: "ok", ordersOutbox: expect.stringMatching(/^lagging \(1 event\(s\) unpublished, the oldest for \d+ s; READY_MAX_OUTBOX_LAG_S is 2\)$/) },
				outbox: { orders: { pending: 1, oldestPendingAgeSeconds: expect.any(Number) } }
			});
			expect(lagging.body.outbox.orders.oldestPendingAgeSeconds).toBeGreaterThan(2);
			const publicAnswer = await system.anonymous().get("/api/health/ready");
			expect(publicAnswer.status).toBe(503);
			expect(publicAnswer.body).toMatchObject({ type: "urn:order-pipeline:problem:not-ready" });
			expect(publicAnswer.body).not.toHaveProperty("checks");
			expect(publicAnswer.body).not.toHaveProperty("outbox");
			// The gauge is refreshed at most every 2 s, apart from readiness, which reads the outbox itself.
			await waitFor("the outbox gauge to show the event", async () => sample(await scrape(), "outbox_pending_events", { service: "orders" }) === 1);
		} finally {
			relay.outboxStopped = false;
			relay.wakeOutboxRelay();
		}
		await waitFor("readiness to come back", async () => (await ready()).status === 200);
		await waitFor(`order ${id} to complete`, async () => (await api().get(`/api/orders/${id}`)).body.status === "completed", 20_000);
		await waitFor("the outbox gauge back to 0", async () => sample(await scrape(), "outbox_pending_events", { service: "orders" }) === 0);
	});
});
