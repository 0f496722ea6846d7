/**
 * Trace context for the code of the services, through the OpenTelemetry API only. Without the SDK
 * (tracing off) the API is a no-op: nothing is recorded, nothing is propagated, every helper here
 * just runs what it is given.
 */
import {
	ROOT_CONTEXT,
	SpanKind,
	SpanStatusCode,
	TraceFlags,
	context,
	propagation,
	trace,
	type Attributes,
	type Context as OtelContext,
	type Span
} from "@opentelemetry/api";

/** The tracer of this application's own spans (Moleculer actions and events, the outbox relay). */
export const TRACER_NAME = "order-pipeline";

/** The W3C trace context of a span, as `traceparent` and `tracestate` carry it (HTTP headers, ctx.meta, outbox rows). */
export interface TraceCarrier {
	traceparent: string;
	tracestate?: string;
}

/** The W3C fields a carrier holds; ctx.meta uses the same names. */
export const TRACE_FIELDS = ["traceparent", "tracestate"] as const;

/** The trace context of the active span, to store with work done later; null when nothing is traced. */
export function captureTraceContext(active: OtelContext = context.active()): TraceCarrier | null {
	const carrier: Partial<TraceCarrier> = {};
	propagation.inject(active, carrier);
	return carrier.traceparent ? (carrier as TraceCarrier) : null;
}

/** The trace context a carrier (a stored row, ctx.meta) holds, or none. */
export function contextOf(carrier: { traceparent?: unknown; tracestate?: unknown } | null | undefined, base: OtelContext = ROOT_CONTEXT): OtelContext {
	if (!carrier || typeof carrier.traceparent !== "string") return base;
	return propagation.extract(base, carrier as Record<string, unknown>);
}

/**
 * Runs `fn` outside any trace: work done for many traces at once (a relay pass that publishes the
 * rows of many requests) must not join the trace of whatever woke it.
 */
export function outsideTraces<T>(fn: () => T): T {
	return context.with(ROOT_CONTEXT, fn);
}

/**
 * Runs `fn` in a new span, a child of `parent`, ending it when `fn` settles (an error sets the
 * span's status). Without the SDK the span is a no-op.
 */
export function inSpan<T>(name: string, kind: SpanKind, attributes: Attributes, parent: OtelContext, fn: () => T): T {
	const span = trace.getTracer(TRACER_NAME).startSpan(name, { kind, attributes }, parent);
	let result: T;
	try {
		result = context.with(trace.setSpan(parent, span), fn);
	} catch (err) {
		endWithError(span, err);
		throw err;
	}
	if (isThenable(result)) {
		return Promise.resolve(result).then(
			value => {
				span.end();
				return value;
			},
			err => {
				endWithError(span, err);
				throw err;
			}
		) as T;
	}
	span.end();
	return result;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
	return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function endWithError(span: Span, err: unknown): void {
	if (err instanceof Error) span.recordException(err);
	span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
	span.end();
}

/**
 * Runs `fn` in a span that continues the trace stored in `carrier` (an outbox row's), so work done
 * later, in another pass or process, joins the trace of the request that caused it. Without a
 * stored trace, `fn` just runs.
 */
export function continueTrace<T>(carrier: TraceCarrier | null | undefined, name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
	if (!carrier?.traceparent) return fn();
	return inSpan(name, SpanKind.PRODUCER, attributes, contextOf(carrier), fn);
}

/** The ids of the active span when it is recorded, for log lines; undefined otherwise. */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
	const spanContext = trace.getActiveSpan()?.spanContext();
	if (!spanContext || (spanContext.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
	return { traceId: spanContext.traceId, spanId: spanContext.spanId };
}
