/**
 * The business metrics as an operator scrapes them from a node's Prometheus endpoint (one process,
 * no transporter, embedded PostgreSQL): orders created and finished by status, the saga's and the
 * processor's durations, the stock's outcomes, the outboxes' lag, retries, dead letters and their
 * depth — and readiness turning 503 while an outbox lags. No label value is an id.
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Errors, type Service } from "moleculer";
import type { Transaction } from "sequelize";
import type { ReadinessReport } from "../../lib/health/readiness";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";
import type { ProcessorSaga } from "../../services/processor/processor-saga";
import { ManualClock } from "../support/manual-clock";

const ORDER_TIMEOUT_MS = 2500;

interface OutboxService {
	transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T>;
	enqueueEvent(t: Transaction, name: string, group: string, payload: Record<string, unknown>, meta?: Record<string, unknown>): Promise<void>;
	wakeOutboxRelay(): void;
	outboxStopped: boolean;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** The samples of one metric family: labels (without namespace and nodeID) and value. */
function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
	const found: Array<{ labels: Record<string, string>; value: number }> = [];
	for (const line of text.split("\n")) {
		const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		if (!match || match[1] !== name) continue;
		const labels: Record<string, string> = {};
		for (const [, key, value] of (match[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
		delete labels.namespace;
		delete labels.nodeID;
		found.push({ labels, value: Number(match[3]) });
	}
	return found;
}

/** The value of one sample, or undefined when the family has no sample with exactly these labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
	const want = JSON.stringify(Object.entries(labels).sort());
	return samples(text, name).find(s => JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

describe("Business metrics on /metrics, and readiness with a lagging outbox (one node)", () => {
	let system: RunningSystem;
	let metricsUrl: string;
	const heldOrders = new Set<string>();
	/** When set, the first order.created of an order not in it is held (it fails on every run). */
	let holdNextFrom: Set<string> | null = null;
	const orderIds: string[] = [];
	const correlationIds: string[] = [];
	const api = () => system.http();
	const scrape = async () => (await fetch(metricsUrl)).text();
	const outbox = (name: "orders" | "processor") => system.service(name) as unknown as OutboxService;
	// The node's clock keeps the wall clock's pace for what still takes real time here (the relays'
	// polls and gauges; a retry's backoff is timed by the database), and the test moves it past
	// ORDER_TIMEOUT_MS at once.
	const clock = new ManualClock();
	let stopPace: (() => void) | undefined;

	const createOrder = async (sku: string, headers: Record<string, string> = {}) => {
		const correlationId = `corr-metrics-${randomUUID()}`;
		const res = await api()
			.post("/api/orders")
			.set({ "X-Correlation-Id": correlationId, ...headers })
			.send({ customerId: "cust-metrics", currency: "EUR", items: [{ sku, quantity: 1, unitPrice: 2.5 }] });
		expect(res.status).toBe(201);
		orderIds.push(res.body.id);
		correlationIds.push(correlationId);
		return res.body.id as string;
	};
	const statusOf = async (id: string) => (await api().get(`/api/orders/${id}`)).body.status as string;
	const settled = (id: string, status: string) => waitFor(`order ${id} to be ${status}`, async () => (await statusOf(id)) === status, 30_000);

	beforeAll(async () => {
		stopPace = clock.keepPace();
		system = await startSystem({
			env: {
				METRICS_PORT: "0",
				// An order held by the processor expires when the test moves the clock; the others finish long before.
				ORDER_TIMEOUT_MS: String(ORDER_TIMEOUT_MS),
				// One retry, 4 to 8 s after the first run, then the event is given up on.
				RETRY_MAX_ATTEMPTS: "2",
				RETRY_BASE_DELAY_MS: "8000",
				// Readiness fails once an outbox holds an event for more than a second.
				READY_MAX_OUTBOX_LAG_S: "1"
			},
			clock
		});
		const reporter = (system.broker.metrics as unknown as { reporter: Array<{ server: Server }> }).reporter[0];
		await waitFor("the metrics endpoint to listen", async () => reporter.server.listening);
		metricsUrl = `http://127.0.0.1:${(reporter.server.address() as AddressInfo).port}/metrics`;

		// The processor's stock store is away for the held orders: every run fails (a passing fault).
		const processor = (system.service("processor") as Service & { saga: ProcessorSaga }).saga;
		const processOrder = processor.processOrder.bind(processor);
		processor.processOrder = async event => {
			if (holdNextFrom && !holdNextFrom.has(event.orderId)) {
				heldOrders.add(event.orderId);
				holdNextFrom = null;
			}
			if (heldOrders.has(event.orderId)) throw new Error("The stock store is away.");
			return processOrder(event);
		};
		// A consumer that refuses what it gets: a broken rule, never retried.
		system.broker.createService({
			name: "strict",
			events: {
				"test.strict": {
					group: "strict",
					handler() {
						throw new Errors.MoleculerClientError("This event breaks a rule.", 409, "RULE_BROKEN");
					}
				}
			}
		});
		await system.broker.waitForServices("strict");
		await api().put("/api/admin/stock/SKU-0050").send({ available: 0 }).expect(200);
	});
	afterAll(async () => {
		await system?.stop();
		stopPace?.();
	});

	it("should count orders created and finished by status, and the saga's and the processor's durations", async () => {
		const keyed = await createOrder("SKU-0001", { "Idempotency-Key": "metrics-key-1" });
		// The same key again: answered with the first order, not counted.
		const replay = await api()
			.post("/api/orders")
			.set({ "Idempotency-Key": "metrics-key-1" })
			.send({ customerId: "cust-metrics", currency: "EUR", items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 2.5 }] });
		expect(replay.body.id).toBe(keyed);
		expect(replay.headers["idempotent-replayed"]).toBe("true");
		const completed = await createOrder("SKU-0002");
		const unknownSku = await createOrder("SKU-9999");
		const noStock = await createOrder("SKU-0050");
		const toCancel = await createOrder("SKU-0003");
		// The next order finds the processor's stock store away on every run, and expires.
		holdNextFrom = new Set(orderIds);
		const held = await createOrder("SKU-0004");
		await waitFor("the held order's event to fail once", async () => heldOrders.has(held));

		await Promise.all([settled(keyed, "completed"), settled(completed, "completed"), settled(toCancel, "completed")]);
		await Promise.all([settled(unknownSku, "failed"), settled(noStock, "failed")]);
		await api().post(`/api/orders/${toCancel}/cancel`).send({ reason: "changed my mind" }).expect(200);
		await settled(toCancel, "cancelled");
		clock.advance(ORDER_TIMEOUT_MS);
		await settled(held, "expired");

		await waitFor("the finished orders on /metrics", async () => sample(await scrape(), "orders_finished_total", { status: "expired" }) === 1);
		const text = await scrape();
		expect(sample(text, "orders_created_total")).toBe(6);
		expect(samples(text, "orders_finished_total")).toEqual(
			expect.arrayContaining([
				{ labels: { status: "completed" }, value: 3 },
				{ labels: { status: "failed" }, value: 2 },
				{ labels: { status: "cancelled" }, value: 1 },
				{ labels: { status: "expired" }, value: 1 }
			])
		);
		expect(samples(text, "orders_finished_total")).toHaveLength(4);
		for (const [status, count] of [["completed", 3], ["failed", 2], ["cancelled", 1], ["expired", 1]] as const) {
			expect(sample(text, "order_saga_duration_seconds_count", { status })).toBe(count);
			expect(sample(text, "order_saga_duration_seconds_bucket", { status, le: "+Inf" })).toBe(count);
			expect(sample(text, "order_saga_duration_seconds_bucket", { status, le: "600" })).toBe(count);
			expect(sample(text, "order_saga_duration_seconds_sum", { status })).toBeGreaterThan(0);
		}
		// The expired order waited ORDER_TIMEOUT_MS at least.
		expect(sample(text, "order_saga_duration_seconds_bucket", { status: "expired", le: "2.5" })).toBe(0);
		expect(sample(text, "processor_processing_duration_seconds_count", { outcome: "completed" })).toBe(3);
		expect(sample(text, "processor_processing_duration_seconds_count", { outcome: "failed" })).toBe(2);
		expect(text).toMatch(/^# TYPE order_saga_duration_seconds histogram$/m);
		// Buckets in ascending order, as Prometheus writes them.
		const bounds = samples(text, "order_saga_duration_seconds_bucket")
			.filter(s => s.labels.status === "completed")
			.map(s => s.labels.le);
		expect(bounds).toEqual(["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300", "600", "+Inf"]);

		expect(samples(text, "stock_reservations_total")).toEqual(
			expect.arrayContaining([
				{ labels: { outcome: "reserved" }, value: 3 },
				{ labels: { outcome: "unknown_sku" }, value: 1 },
				{ labels: { outcome: "insufficient_stock" }, value: 1 },
				{ labels: { outcome: "released" }, value: 1 }
			])
		);
	});

	it("should count a retry and dead letters by event, group and reason, and show the dead letters' depth", async () => {
		// The held order's event ran once and waits for its one retry, which fails too.
		let text = await scrape();
		expect(sample(text, "event_retries_total", { event: "order.created", group: "processor" })).toBe(1);

		const refusedId = randomUUID();
		await outbox("orders").transaction(t =>
			outbox("orders").enqueueEvent(t, "order.created", "processor", { orderId: refusedId, correlationId: `corr-${refusedId}`, items: [] })
		);
		const strictId = randomUUID();
		await outbox("processor").transaction(t => outbox("processor").enqueueEvent(t, "test.strict", "strict", { orderId: strictId }));

		await waitFor(
			"the dead letters on /metrics",
			async () => {
				text = await scrape();
				return (
					sample(text, "dead_letters_total", { event: "order.created", group: "processor", reason: "transient" }) === 1 &&
					sample(text, "dead_letters_total", { event: "order.created", group: "processor", reason: "validation" }) === 1 &&
					sample(text, "dead_letters_total", { event: "test.strict", group: "strict", reason: "rule" }) === 1 &&
					sample(text, "dead_letters_pending", { event: "order.created", group: "processor" }) === 2 &&
					sample(text, "dead_letters_pending", { event: "test.strict", group: "strict" }) === 1
				);
			},
			30_000
		);
		expect(sample(text, "event_retries_total", { event: "order.created", group: "processor" })).toBe(1);
		expect(sample(text, "event_retries_total", { event: "test.strict", group: "strict" })).toBeUndefined();
		expect(sample(text, "dead_letters_total", { event: "order.processed", group: "orders", reason: "transient" })).toBe(0);
		expect(sample(text, "dead_letters_pending", { event: "order.processed", group: "orders" })).toBe(0);

		// Purged: the depth goes back to 0.
		await api().delete(`/api/admin/dead-letters?orderId=${strictId}`).expect(200);
		await waitFor("the purged dead letter to leave the depth", async () => sample(await scrape(), "dead_letters_pending", { event: "test.strict", group: "strict" }) === 0);
	});

	it("should show the outboxes drained as 0, and a held event's age growing, readiness 503 past READY_MAX_OUTBOX_LAG_S and 200 after", async () => {
		await waitFor("both outboxes drained on /metrics", async () => {
			const text = await scrape();
			return ["orders", "processor"].every(
				service => sample(text, "outbox_pending_events", { service }) === 0 && sample(text, "outbox_oldest_pending_age_seconds", { service }) === 0
			);
		});
		const ready = await fetch(`${system.metricsBaseUrl}/health/ready`);
		const readyBody = (await ready.json()) as ReadinessReport;
		expect(ready.status).toBe(200);
		expect(readyBody.outbox).toEqual({ orders: { pending: 0, oldestPendingAgeSeconds: 0 }, processor: { pending: 0, oldestPendingAgeSeconds: 0 } });
		expect(readyBody.checks).toMatchObject({ ordersOutbox: "ok", processorOutbox: "ok" });

		// The relay of orders stops publishing: the next order's event waits.
		outbox("orders").outboxStopped = true;
		try {
			await createOrder("SKU-0005");
			await waitFor("the held event's age on /metrics", async () => {
				const text = await scrape();
				return sample(text, "outbox_pending_events", { service: "orders" })! >= 1 && sample(text, "outbox_oldest_pending_age_seconds", { service: "orders" })! > 1;
			});
			// Readiness is checked at most once a second: wait for a check that saw the lag.
			await waitFor("the metrics port's readiness to see the lag", async () => (await fetch(`${system.metricsBaseUrl}/health/ready`)).status === 503);
			const lagging = await fetch(`${system.metricsBaseUrl}/health/ready`);
			const body = (await lagging.json()) as Required<ReadinessReport> & { detail: string };
			expect(lagging.status).toBe(503);
			expect(body.checks).toMatchObject({ ordersOutbox: expect.stringMatching(/^lagging \(\d+ event\(s\) unpublished, the oldest for \d+ s; READY_MAX_OUTBOX_LAG_S is 1\)$/), processorOutbox: "ok" });
			// The order's order.created, and its order.cancelled once it expired meanwhile.
			expect(body.outbox.orders).toEqual({ pending: expect.any(Number), oldestPendingAgeSeconds: expect.any(Number) });
			expect(body.outbox.orders.pending).toBeGreaterThanOrEqual(1);
			expect(body.outbox.orders.oldestPendingAgeSeconds).toBeGreaterThan(1);
			expect(body.detail).toMatch(/ordersOutbox lagging/);

			// The public answer says the node is not ready, and nothing about why.
			const publicAnswer = await system.anonymous().get("/api/health/ready");
			expect(publicAnswer.status).toBe(503);
			// `code` is NOT_READY: it names no dependency either.
			expect(Object.keys(publicAnswer.body).sort()).toEqual(["code", "detail", "instance", "status", "title", "type"]);
			expect(JSON.stringify(publicAnswer.body)).not.toMatch(/outbox|lagging|READY_MAX|orders|pending/i);
		} finally {
			outbox("orders").outboxStopped = false;
			outbox("orders").wakeOutboxRelay();
		}
		await waitFor("readiness to come back", async () => (await system.anonymous().get("/api/health/ready")).status === 200);
		await waitFor("the orders outbox drained again", async () => sample(await scrape(), "outbox_pending_events", { service: "orders" }) === 0);
	});

	it("should show no id, customer, SKU or correlation id in any label", async () => {
		const text = await scrape();
		expect(text).not.toMatch(UUID);
		expect(text).not.toMatch(/SKU-\d/);
		expect(text).not.toContain("cust-metrics");
		expect(text).not.toContain("corr-");
		for (const id of orderIds) expect(text).not.toContain(id);
		const business = /^(orders_|order_saga_|processor_processing_|stock_reservations_|outbox_|event_retries_|dead_letters_|bus_packets_)/;
		const labelValues = text
			.split("\n")
			.filter(line => business.test(line))
			.flatMap(line => [...line.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].filter(([, key]) => !["namespace", "nodeID", "le"].includes(key)).map(([, , v]) => v));
		expect(new Set(labelValues)).toEqual(
			new Set([
				"completed",
				"failed",
				"cancelled",
				"expired",
				"reserved",
				"insufficient_stock",
				"unknown_sku",
				"released",
				"orders",
				"processor",
				"order.created",
				"order.processed",
				"order.cancelled",
				"order.compensated",
				"test.strict",
				"strict",
				"validation",
				"malformed",
				"signature",
				"stale",
				"replay",
				"rule",
				"transient"
			])
		);
	});
});
