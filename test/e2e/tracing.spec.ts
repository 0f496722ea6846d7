/**
 * One trace per order across two processes: the HTTP request, orders, its outbox, RabbitMQ, the
 * processor, its outbox and orders' handling of the answer, exported over OTLP/HTTP by both
 * processes to a receiver in this test.
 *
 * The processor exports with a ten-minute batch delay: its spans reach the receiver only when its
 * SIGTERM flushes them, which this test checks as well.
 */
import { waitFor } from "../support/services";
import { Cluster } from "./support/cluster";
import { OtlpReceiver, OtlpSpanKind, type ReceivedSpan } from "./support/otlp-receiver";

const FRONT = "order-pipeline-api-orders";
const PROCESSOR = "order-pipeline-processor";

/** The spans as an indented tree, for failure messages. */
function render(spans: ReceivedSpan[]): string {
	const ids = new Set(spans.map(s => s.spanId));
	const lines: string[] = [];
	const walk = (parent: string | undefined, depth: number) => {
		for (const span of spans.filter(s => (parent === undefined ? !s.parentSpanId || !ids.has(s.parentSpanId) : s.parentSpanId === parent))) {
			lines.push(`${"  ".repeat(depth)}${span.name} [${span.service}]`);
			walk(span.spanId, depth + 1);
		}
	};
	walk(undefined, 0);
	return lines.join("\n");
}

/** The names of a span's ancestors and its own, root first. */
function lineage(spans: ReceivedSpan[], span: ReceivedSpan): string[] {
	const byId = new Map(spans.map(s => [s.spanId, s]));
	const names: string[] = [];
	for (let s: ReceivedSpan | undefined = span; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) names.unshift(`${s.name} [${s.service}]`);
	return names;
}

describe("Tracing: one trace per order across two processes", () => {
	const receiver = new OtlpReceiver();
	const cluster = new Cluster();

	beforeAll(async () => {
		const endpoint = await receiver.start();
		await cluster.setUp();
		await cluster.startFront({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: "200" });
		await cluster.startProcessor({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: "600000" });
	});
	afterAll(async () => {
		await cluster.tearDown();
		await receiver.stop();
	});

	let orderId = "";
	let traceId = "";

	it("should export the front's spans of an order over OTLP/HTTP JSON, and the processor's none yet", async () => {
		orderId = (await cluster.post([{ sku: "SKU-0012", quantity: 2, unitPrice: 3 }])).id;
		expect((await cluster.allFinal([orderId])).get(orderId)).toBe("completed");

		const handled = await waitFor(
			"orders' handling of order.processed to be exported",
			() => receiver.spans.find(s => s.name === "event order.processed" && s.attributes["order.id"] === orderId),
			20_000
		);
		traceId = handled.traceId;
		expect(receiver.requests.length).toBeGreaterThan(0);
		expect(receiver.requests.every(r => r.path === "/v1/traces" && r.contentType.startsWith("application/json"))).toBe(true);
		expect(receiver.spans.filter(s => s.service === PROCESSOR)).toEqual([]);
	});

	it("should send the processor's spans when SIGTERM stops it", async () => {
		expect(await cluster.processor!.stop("SIGTERM")).toBe(0);
		expect(receiver.trace(traceId).some(s => s.service === PROCESSOR)).toBe(true);
	});

	it("should make the whole order one tree rooted at the HTTP request, through both outboxes and RabbitMQ", async () => {
		const spans = receiver.trace(traceId);
		const tree = render(spans);
		const ids = new Set(spans.map(s => s.spanId));

		const roots = spans.filter(s => !s.parentSpanId || !ids.has(s.parentSpanId));
		expect({ roots: roots.map(s => `${s.name} [${s.service}]`), tree }).toEqual({ roots: [`POST /api/orders [${FRONT}]`], tree });
		expect(roots[0]).toMatchObject({ kind: OtlpSpanKind.Server, parentSpanId: undefined, attributes: expect.objectContaining({ "http.route": "/api/orders" }) });
		expect(new Set(spans.map(s => s.service))).toEqual(new Set([FRONT, PROCESSOR]));

		const one = (name: string, service: string) => {
			const found = spans.filter(s => s.name === name && s.service === service);
			if (found.length !== 1) throw new Error(`expected one '${name}' span of ${service}, found ${found.length}:\n${tree}`);
			return found[0];
		};
		const orderProcessed = one("event order.processed", FRONT);
		// From the request down to orders' handling of the answer, each step a descendant of the one before.
		const path = lineage(spans, orderProcessed).join("\n");
		const steps = [
			`POST /api/orders [${FRONT}]`,
			`action orders.create [${FRONT}]`,
			`outbox publish order.created [${FRONT}]`,
			`publish <default> [${FRONT}]`,
			`process [${PROCESSOR}]`,
			`event order.created [${PROCESSOR}]`,
			`outbox publish order.processed [${PROCESSOR}]`,
			`publish <default> [${PROCESSOR}]`,
			`process [${FRONT}]`,
			`event order.processed [${FRONT}]`
		];
		let at = 0;
		for (const step of steps) {
			const found = path.indexOf(step, at);
			if (found < 0) throw new Error(`'${step}' is not where expected in the lineage of orders' handling of order.processed:\n${path}\n\nwhole trace:\n${tree}`);
			at = found + step.length;
		}
		expect(one("event order.created", PROCESSOR).attributes).toMatchObject({ "order.id": orderId, "moleculer.group": "processor" });
		expect(one("outbox publish order.created", FRONT).kind).toBe(OtlpSpanKind.Producer);
		// Queries of both databases are in the trace, under the handlers that made them: in orders at
		// least the create's statement and the one that applies 'order.processed'; in the processor its
		// transaction (BEGIN, the record and stock statement, the outcome statement, COMMIT).
		const pgSpans = (service: string) => spans.filter(s => s.service === service && s.kind === OtlpSpanKind.Client && /^pg\./.test(s.name));
		expect(pgSpans(FRONT).length).toBeGreaterThanOrEqual(2);
		expect(pgSpans(PROCESSOR).length).toBeGreaterThanOrEqual(4);
	});

	it("should write the trace id in the log lines of the order's work, in both processes", () => {
		const lineOf = (output: string, message: string) =>
			output
				.split("\n")
				.filter(l => l.startsWith("{"))
				.map(l => JSON.parse(l) as Record<string, unknown>)
				.find(l => l.message === message && l.orderId === orderId);
		expect(lineOf(cluster.front!.output(), "Order created.")).toMatchObject({ traceId, spanId: expect.stringMatching(/^[0-9a-f]{16}$/) });
		expect(lineOf(cluster.processor!.output(), "Order processed: stock reserved.")).toMatchObject({ traceId });
		expect(lineOf(cluster.front!.output(), "Order completed.")).toMatchObject({ traceId });
		// Lines outside any trace have none.
		expect(cluster.front!.output()).toMatch(/"message":"Node started with services: api, orders\."(?![^\n]*traceId)/);
	});
});
