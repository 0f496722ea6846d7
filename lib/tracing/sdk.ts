/**
 * The OpenTelemetry SDK of a node that traces: required by lib/tracing/index.ts only when tracing
 * starts, and never when it is off.
 *
 * - A TracerProvider (the SDK's 3.x one: there is no sdk-trace-node; the Node parts are the
 *   async-hooks context manager and the W3C propagator, registered globally here) whose
 *   BatchSpanProcessor sends to the OTLP/HTTP exporter (JSON) at `<endpoint>/v1/traces`.
 * - Instrumentations of `http` (the gateway's incoming requests), `pg` (every query) and `amqplib`
 *   (publish and consume: it injects `traceparent` into the headers of every message it publishes,
 *   on a confirm channel too, and continues that context around the consumer's callback).
 * - A sampler that starts a trace only at an entry point: an incoming HTTP request, or an action or
 *   event handler with no trace around it. A query, a publish or a consume outside any trace — the
 *   relay's polling, the pruners, Moleculer's heartbeats — records nothing.
 */
import { DiagLogLevel, SpanKind, context, diag, propagation, trace, type Attributes, type Context, type DiagLogFunction, type Link } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { RPCType, W3CTraceContextPropagator, getRPCMetadata } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations, type Instrumentation } from "@opentelemetry/instrumentation";
import { AmqplibInstrumentation } from "@opentelemetry/instrumentation-amqplib";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
	AlwaysOnSampler,
	BatchSpanProcessor,
	ParentBasedSampler,
	SamplingDecision,
	TracerProvider,
	type Sampler,
	type SamplingResult,
	type SpanExporter
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { formatJsonLine } from "../logging/json-line";
import type { TracingConfig } from "./config";

/** The SDK once started. */
export interface RunningSdk {
	provider: TracerProvider;
	/** Sends the buffered spans, then stops exporting. */
	shutdown(): Promise<void>;
	/** Sets `http.route` of the HTTP request being served (its span is then named `METHOD route`). */
	setHttpRoute(route: string): void;
}

/** Requests nobody wants a trace of: probes and scrapes, every few seconds. */
const UNTRACED_PATHS = /^\/(api\/health\/|metrics(\/|\?|$))/;

/**
 * Samples every trace that starts at an entry point (an incoming request: SERVER; an action or
 * event handler with nothing around it: INTERNAL) and follows the parent's decision below it.
 */
export class EntryPointSampler implements Sampler {
	private readonly parentBased = new ParentBasedSampler({ root: new AlwaysOnSampler() });

	shouldSample(parent: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
		if (trace.getSpanContext(parent) === undefined && kind !== SpanKind.SERVER && kind !== SpanKind.INTERNAL) {
			return { decision: SamplingDecision.NOT_RECORD };
		}
		return this.parentBased.shouldSample(parent, traceId, name, kind, attributes, links);
	}

	toString(): string {
		return "EntryPointSampler";
	}
}

/** A provider that batches spans to `exporter`; registered nowhere yet. */
export function createTracerProvider(config: TracingConfig, exporter: SpanExporter): TracerProvider {
	return new TracerProvider({
		resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName })),
		sampler: new EntryPointSampler(),
		spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: config.scheduleDelayMs })]
	});
}

/** Makes `provider` the global one, with the async-hooks context manager and the W3C propagator. */
export function registerGlobally(provider: TracerProvider): void {
	context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
	propagation.setGlobalPropagator(new W3CTraceContextPropagator());
	trace.setGlobalTracerProvider(provider);
}

/** The instrumentations of a node: http (incoming requests), pg, amqplib. */
export function createInstrumentations(): Instrumentation[] {
	return [
		new HttpInstrumentation({
			ignoreIncomingRequestHook: request => UNTRACED_PATHS.test(request.url ?? ""),
			// Only calls made inside a trace; the exporter's own requests are never traced.
			requireParentforOutgoingSpans: true
		}),
		// Queries outside any trace (the relay's polling, the pruners) make no span at all.
		new PgInstrumentation({ requireParentSpan: true }),
		new AmqplibInstrumentation()
	] as unknown as Instrumentation[];
}

/** OpenTelemetry's own warnings (an export that failed, say) as the node's JSON log lines. */
function diagLogger(): Record<"error" | "warn" | "info" | "debug" | "verbose", DiagLogFunction> {
	const write = (level: string) => (message: string, ...args: unknown[]) => {
		process.stdout.write(formatJsonLine(level, [message, ...args], { mod: "tracing" }) + "\n");
	};
	return { error: write("error"), warn: write("warn"), info: write("info"), debug: write("debug"), verbose: write("trace") };
}

export function startSdk(config: TracingConfig): RunningSdk {
	diag.setLogger(diagLogger(), DiagLogLevel.WARN);
	const provider = createTracerProvider(config, new OTLPTraceExporter({ url: config.tracesUrl }));
	registerGlobally(provider);
	// Patches the modules as they are required from now on: bin/start.ts has required none of them yet.
	registerInstrumentations({ tracerProvider: provider, instrumentations: createInstrumentations() });
	return {
		provider,
		shutdown: () => provider.shutdown(),
		setHttpRoute(route: string) {
			const rpc = getRPCMetadata(context.active());
			if (rpc?.type === RPCType.HTTP) rpc.route = route;
		}
	};
}
