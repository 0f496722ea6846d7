/**
 * Tracing on, the whole product in one process (no transporter): an order's actions, outbox
 * publishes and event handlers form one trace, the outbox rows keep the trace context of the
 * transaction that wrote them. The SDK exports to memory; no module is instrumented here (the
 * cross-process trace, with http, pg and amqplib, is test/e2e/tracing.spec.ts).
 */
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import type { Sequelize } from "sequelize";
import { readTracingConfig } from "../../lib/tracing/config";
import { createTracerProvider, registerGlobally } from "../../lib/tracing/sdk";
import { waitFor } from "../support/services";
import { startSystem, type RunningSystem } from "../support/system";

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" };
const exporter = new InMemorySpanExporter();
const provider = createTracerProvider(readTracingConfig(ENDPOINT)!, exporter);
registerGlobally(provider);

describe("Tracing an order on one node", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		system = await startSystem({ env: ENDPOINT });
	});
	afterAll(async () => {
		await system?.stop();
		await provider.shutdown();
	});

	it("should make one trace of the order, from the gateway through both outboxes to orders' handling of the answer", async () => {
		const res = await system.http().post("/api/orders").send({ customerId: "c-1", items: [{ sku: "SKU-0003", quantity: 1, unitPrice: 4 }], currency: "EUR" });
		expect(res.status).toBe(201);
		const orderId: string = res.body.id;

		const spans = await waitFor("orders' handling of order.processed to end", async () => {
			await provider.forceFlush();
			const all = exporter.getFinishedSpans();
			return all.some(s => s.name === "event order.processed" && s.attributes["order.id"] === orderId) ? all : null;
		});
		const handled = spans.find(s => s.name === "event order.processed" && s.attributes["order.id"] === orderId)!;
		const traceId = handled.spanContext().traceId;
		const trace = spans.filter(s => s.spanContext().traceId === traceId);
		const byId = new Map(trace.map(s => [s.spanContext().spanId, s]));
		const lineage: string[] = [];
		for (let s: ReadableSpan | undefined = handled; s; s = s.parentSpanContext ? byId.get(s.parentSpanContext.spanId) : undefined) lineage.unshift(s.name);

		expect(lineage).toEqual([
			"action api.rest",
			"action orders.create",
			"outbox publish order.created",
			"event order.created",
			"outbox publish order.processed",
			"event order.processed"
		]);
		expect(trace.filter(s => !s.parentSpanContext).map(s => s.name)).toEqual(["action api.rest"]);
		expect(trace.filter(s => s.name.startsWith("outbox publish")).every(s => s.kind === SpanKind.PRODUCER)).toBe(true);

		// Each outbox row holds the context of the span whose transaction wrote it.
		const rows = async (service: "orders" | "processor") =>
			(system.service(service) as unknown as { db(): Sequelize })
				.db()
				.query<{ event_name: string; trace_context: { traceparent: string } | null }>(
					"SELECT event_name, trace_context FROM outbox_events WHERE payload->>'orderId' = :orderId",
					{ replacements: { orderId }, type: "SELECT" as never }
				);
		const spanOf = (name: string) => trace.find(s => s.name === name)!.spanContext();
		const parentOf = (name: string) => `00-${traceId}-${spanOf(name).spanId}-01`;
		expect(await rows("orders")).toEqual([{ event_name: "order.created", trace_context: { traceparent: parentOf("action orders.create") } }]);
		expect(await rows("processor")).toEqual([{ event_name: "order.processed", trace_context: { traceparent: parentOf("event order.created") } }]);
	});
});
