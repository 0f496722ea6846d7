/**
 * The spans of lib/tracing with the real SDK, exporting to memory: the Moleculer middleware, the
 * outbox's context helpers, the sampler and the log lines. No module is instrumented here.
 */
import { ROOT_CONTEXT, SpanKind, TraceFlags, context, trace, type SpanContext } from "@opentelemetry/api";
import { InMemorySpanExporter, SamplingDecision, type ReadableSpan } from "@opentelemetry/sdk-trace";
import type { ActionSchema, Context, ServiceBroker } from "moleculer";
import { formatJsonLine } from "../../../../lib/logging/json-line";
import { readTracingConfig } from "../../../../lib/tracing/config";
import { captureTraceContext, continueTrace, outsideTraces } from "../../../../lib/tracing/context";
import { TracingMiddleware } from "../../../../lib/tracing/moleculer-middleware";
import { EntryPointSampler, createTracerProvider, registerGlobally } from "../../../../lib/tracing/sdk";

const exporter = new InMemorySpanExporter();
const provider = createTracerProvider(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", SERVICES: "orders" })!, exporter);
registerGlobally(provider);
const tracer = trace.getTracer("test");

async function finished(): Promise<ReadableSpan[]> {
	await provider.forceFlush();
	return exporter.getFinishedSpans();
}

const broker = { nodeID: "node-1" } as ServiceBroker;
type Handler = (ctx: Context) => unknown;
interface Hooks {
	localAction(next: Handler, action: Partial<ActionSchema>): Handler;
	localEvent(next: Handler, event: Record<string, unknown>): Handler;
	remoteAction(next: Handler): Handler;
	emit(next: (name: string, payload: unknown, opts?: Record<string, unknown>) => unknown): (name: string, payload: unknown, opts?: Record<string, unknown>) => unknown;
}
const middleware = TracingMiddleware(broker) as unknown as Hooks;

function contextOf(meta: Record<string, unknown> = {}, params: unknown = {}, nodeID = "node-1"): Context {
	return { meta, params, nodeID, requestID: "req-1" } as unknown as Context;
}

const traceparentOf = (sc: SpanContext) => `00-${sc.traceId}-${sc.spanId}-01`;

beforeEach(() => exporter.reset());

describe("Test 'TracingMiddleware'", () => {
	it("should run a local action in a span, a child of the active one, and end it with the handler", async () => {
		const action = middleware.localAction(async () => {
			await new Promise(resolve => setTimeout(resolve, 5));
			return trace.getActiveSpan()?.spanContext().spanId;
		}, { name: "orders.create", service: { name: "orders" } as ActionSchema["service"] });
		const outer = tracer.startSpan("outer");
		const innerSpanId = await context.with(trace.setSpan(ROOT_CONTEXT, outer), () => action(contextOf({ correlationId: "c-1" })));
		outer.end();

		const [span] = (await finished()).filter(s => s.name === "action orders.create");
		expect(span.spanContext().spanId).toBe(innerSpanId);
		expect(span.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
		expect(span.kind).toBe(SpanKind.INTERNAL);
		expect(span.attributes).toMatchObject({
			"moleculer.action": "orders.create",
			"moleculer.service": "orders",
			"moleculer.node_id": "node-1",
			"app.correlation_id": "c-1"
		});
	});

	it("should continue the trace ctx.meta names when no span is active, as for a call from another node", async () => {
		const caller = tracer.startSpan("caller on another node");
		caller.end();
		const action = middleware.localAction(() => "done", { name: "processor.getStock" });
		expect(await action(contextOf({ traceparent: traceparentOf(caller.spanContext()) }, {}, "node-2"))).toBe("done");

		const span = (await finished()).find(s => s.name === "action processor.getStock")!;
		expect(span.spanContext().traceId).toBe(caller.spanContext().traceId);
		expect(span.parentSpanContext).toMatchObject({ spanId: caller.spanContext().spanId, isRemote: true });
		expect(span.kind).toBe(SpanKind.SERVER);
		expect(span.attributes["moleculer.caller_node_id"]).toBe("node-2");
	});

	it("should record a failed handler's error on its span", async () => {
		const action = middleware.localAction(async () => {
			throw new Error("stock is gone");
		}, { name: "processor.setStock" });
		await expect(action(contextOf())).rejects.toThrow("stock is gone");
		const span = (await finished()).find(s => s.name === "action processor.setStock")!;
		expect(span.status).toMatchObject({ code: 2, message: "stock is gone" });
		expect(span.events.map(e => e.name)).toEqual(["exception"]);
	});

	it("should run an event handler in a span that names the event, its group and the order", async () => {
		const relay = tracer.startSpan("outbox publish order.created");
		relay.end();
		const handler = middleware.localEvent(() => undefined, { name: "order.created", group: "processor", service: { name: "processor" } });
		await handler(contextOf({ traceparent: traceparentOf(relay.spanContext()) }, { orderId: "o-1" }, "node-2"));
		const span = (await finished()).find(s => s.name === "event order.created")!;
		expect(span.kind).toBe(SpanKind.CONSUMER);
		expect(span.parentSpanContext?.spanId).toBe(relay.spanContext().spanId);
		expect(span.attributes).toMatchObject({ "moleculer.event": "order.created", "moleculer.group": "processor", "moleculer.service": "processor", "order.id": "o-1" });
	});

	it("should record nothing of an event from another node that came with no trace", async () => {
		await middleware.localEvent(() => undefined, { name: "order.cancelled" })(contextOf({}, {}, "node-2"));
		expect(await finished()).toEqual([]);
	});

	it("should leave Moleculer's internal actions and events alone", () => {
		const next = () => undefined;
		expect(middleware.localAction(next, { name: "$node.list" })).toBe(next);
		expect(middleware.localEvent(next, { name: "$services.changed" })).toBe(next);
	});

	it("should put the active span's context in the meta of a remote call, in place of any inherited one", async () => {
		let sent: Record<string, unknown> = {};
		const call = middleware.remoteAction(ctx => (sent = ctx.meta as Record<string, unknown>));
		const span = tracer.startSpan("caller");
		context.with(trace.setSpan(ROOT_CONTEXT, span), () => call(contextOf({ traceparent: "00-stale-stale-01", user: { sub: "u" } })));
		span.end();
		expect(sent).toEqual({ traceparent: traceparentOf(span.spanContext()), user: { sub: "u" } });

		call(contextOf({ traceparent: "00-stale-stale-01" }));
		expect(sent).toEqual({});
	});

	it("should put the active span's context in the meta of an emitted event, and nothing in Moleculer's own", () => {
		const calls: Array<Record<string, unknown> | undefined> = [];
		const emit = middleware.emit((_name, _payload, opts) => calls.push(opts));
		const span = tracer.startSpan("relay");
		context.with(trace.setSpan(ROOT_CONTEXT, span), () => {
			emit("order.created", {}, { groups: ["processor"], meta: { correlationId: "c-1" } });
			emit("$services.changed", {});
		});
		span.end();
		expect(calls).toEqual([{ groups: ["processor"], meta: { correlationId: "c-1", traceparent: traceparentOf(span.spanContext()) } }, undefined]);
	});
});

describe("Test the outbox's trace helpers", () => {
	it("should capture the active span's context, and nothing outside a span", () => {
		const span = tracer.startSpan("transaction");
		expect(context.with(trace.setSpan(ROOT_CONTEXT, span), () => captureTraceContext())).toEqual({ traceparent: traceparentOf(span.spanContext()) });
		span.end();
		expect(captureTraceContext()).toBeNull();
	});

	it("should publish a stored row in a producer span of its trace, later and from anywhere", async () => {
		const request = tracer.startSpan("request");
		request.end();
		const stored = { traceparent: traceparentOf(request.spanContext()) };
		const elsewhere = tracer.startSpan("a relay pass woken by another request");
		const seen = await context.with(trace.setSpan(ROOT_CONTEXT, elsewhere), () =>
			outsideTraces(() => continueTrace(stored, "outbox publish order.created", { "outbox.id": "7" }, async () => captureTraceContext()))
		);
		elsewhere.end();

		const span = (await finished()).find(s => s.name === "outbox publish order.created")!;
		expect(span.kind).toBe(SpanKind.PRODUCER);
		expect(span.spanContext().traceId).toBe(request.spanContext().traceId);
		expect(span.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
		expect(seen).toEqual({ traceparent: traceparentOf(span.spanContext()) });
	});

	it("should publish a row without a stored trace outside any span", async () => {
		const elsewhere = tracer.startSpan("elsewhere");
		const seen = await context.with(trace.setSpan(ROOT_CONTEXT, elsewhere), () => outsideTraces(() => continueTrace(null, "outbox publish x", {}, async () => trace.getActiveSpan())));
		elsewhere.end();
		expect(seen).toBeUndefined();
		expect((await finished()).map(s => s.name)).toEqual(["elsewhere"]);
	});
});

describe("Test 'EntryPointSampler'", () => {
	const sampler = new EntryPointSampler();
	const decide = (parent: typeof ROOT_CONTEXT, kind: SpanKind) => sampler.shouldSample(parent, "0af7651916cd43dd8448eb211c80319c", "x", kind, {}, []).decision;
	const parentWith = (flags: number, isRemote: boolean) =>
		trace.setSpanContext(ROOT_CONTEXT, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: flags, isRemote });

	it("should start a trace at an incoming request or a handler, never at a query, a publish or a consume", () => {
		expect(decide(ROOT_CONTEXT, SpanKind.SERVER)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
		expect(decide(ROOT_CONTEXT, SpanKind.INTERNAL)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
		expect(decide(ROOT_CONTEXT, SpanKind.CLIENT)).toBe(SamplingDecision.NOT_RECORD);
		expect(decide(ROOT_CONTEXT, SpanKind.PRODUCER)).toBe(SamplingDecision.NOT_RECORD);
		expect(decide(ROOT_CONTEXT, SpanKind.CONSUMER)).toBe(SamplingDecision.NOT_RECORD);
	});

	it("should follow the parent's decision below the root, local or remote", () => {
		expect(decide(parentWith(TraceFlags.SAMPLED, true), SpanKind.CONSUMER)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
		expect(decide(parentWith(TraceFlags.SAMPLED, false), SpanKind.CLIENT)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
		expect(decide(parentWith(TraceFlags.NONE, true), SpanKind.INTERNAL)).toBe(SamplingDecision.NOT_RECORD);
		expect(decide(parentWith(TraceFlags.NONE, false), SpanKind.SERVER)).toBe(SamplingDecision.NOT_RECORD);
	});
});

describe("Test the trace ids of log lines", () => {
	it("should write traceId and spanId in a line logged inside a recorded span, and neither outside", () => {
		const span = tracer.startSpan("handler");
		const inside = JSON.parse(context.with(trace.setSpan(ROOT_CONTEXT, span), () => formatJsonLine("info", ["Order created."], {})));
		span.end();
		expect(inside).toMatchObject({ message: "Order created.", traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });

		const outside = JSON.parse(formatJsonLine("info", ["Node started."], {}));
		expect(outside).not.toHaveProperty("traceId");
		expect(outside).not.toHaveProperty("spanId");
	});

	it("should write no ids for a span that is not recorded", () => {
		const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.NONE });
		expect(JSON.parse(context.with(unsampled, () => formatJsonLine("info", ["x"], {})))).not.toHaveProperty("traceId");
	});
});
