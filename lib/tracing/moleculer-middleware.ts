/**
 * Moleculer's actions and events as OpenTelemetry spans (moleculer.config.ts adds this middleware
 * when tracing is on; Moleculer's own `tracing` option stays off, so nothing is traced twice).
 *
 * - A local action or event handler runs in a span, a child of the active span: the HTTP request's
 *   for a call from the gateway, the calling action's for a call in-process, the RabbitMQ consume
 *   span (amqplib instrumentation) for a request or event from another node. With no active span it
 *   continues the trace that `ctx.meta.traceparent` names.
 * - A remote call and an emitted event carry the active span's context in `ctx.meta.traceparent`
 *   (and `tracestate`): Moleculer packets carry `meta`, so the context crosses nodes whatever the
 *   transporter does with its message headers.
 * - At the broker's stop, once services and transporter have stopped, the spans left are sent.
 *
 * Moleculer's internal actions and events (`$node.*`, `$services.changed`, …) are not traced.
 */
import { SpanKind, context, trace, type Attributes, type Context as OtelContext } from "@opentelemetry/api";
import type { ActionSchema, Context, EventSchema, Middleware, ServiceBroker } from "moleculer";
import { TRACE_FIELDS, captureTraceContext, contextOf, inSpan } from "./context";
import { stopTracing } from "./index";

type Handler = (ctx: Context) => unknown;
type Emit = (eventName: string, payload?: unknown, opts?: Record<string, unknown>) => Promise<unknown>;

/** The parent of a handler's span: the active span, else the trace context the caller put in `ctx.meta`. */
function parentOf(ctx: Context): OtelContext {
	const active = context.active();
	if (trace.getSpan(active)) return active;
	return contextOf(ctx.meta as Record<string, unknown>, active);
}

/** `meta` with the active span's trace context in place of any it inherited. */
function withTraceContext(meta: Record<string, unknown> | undefined): Record<string, unknown> {
	const out: Record<string, unknown> = { ...meta };
	for (const field of TRACE_FIELDS) delete out[field];
	return Object.assign(out, captureTraceContext());
}

function isInternal(name: string | undefined): boolean {
	return !name || name.startsWith("$");
}

function commonAttributes(broker: ServiceBroker, ctx: Context): Attributes {
	const meta = ctx.meta as Record<string, unknown>;
	return {
		"moleculer.node_id": broker.nodeID,
		...(ctx.nodeID && ctx.nodeID !== broker.nodeID ? { "moleculer.caller_node_id": ctx.nodeID } : {}),
		...(ctx.requestID ? { "moleculer.request_id": ctx.requestID } : {}),
		...(typeof meta?.correlationId === "string" ? { "app.correlation_id": meta.correlationId } : {})
	};
}

export function TracingMiddleware(broker: ServiceBroker): Middleware {
	const remote = (ctx: Context) => Boolean(ctx.nodeID && ctx.nodeID !== broker.nodeID);
	return {
		name: "OpenTelemetryTracing",

		localAction(next: Handler, action: ActionSchema) {
			if (isInternal(action.name)) return next;
			const name = `action ${action.name}`;
			return function tracedAction(ctx: Context) {
				const attributes: Attributes = {
					...commonAttributes(broker, ctx),
					"moleculer.action": action.name,
					...(action.service?.name ? { "moleculer.service": action.service.name } : {})
				};
				return inSpan(name, remote(ctx) ? SpanKind.SERVER : SpanKind.INTERNAL, attributes, parentOf(ctx), () => next(ctx));
			};
		},

		localEvent(next: Handler, event: EventSchema & { service?: { name?: string } }) {
			if (isInternal(event.name)) return next;
			const name = `event ${event.name}`;
			return function tracedEvent(ctx: Context) {
				const params = ctx.params as { orderId?: unknown } | undefined;
				const attributes: Attributes = {
					...commonAttributes(broker, ctx),
					"moleculer.event": event.name as string,
					...(event.group ? { "moleculer.group": event.group } : {}),
					...(event.service?.name ? { "moleculer.service": event.service.name } : {}),
					...(typeof params?.orderId === "string" ? { "order.id": params.orderId } : {})
				};
				return inSpan(name, remote(ctx) ? SpanKind.CONSUMER : SpanKind.INTERNAL, attributes, parentOf(ctx), () => next(ctx));
			};
		},

		remoteAction(next: Handler) {
			return function propagatedCall(ctx: Context) {
				ctx.meta = withTraceContext(ctx.meta as Record<string, unknown>);
				return next(ctx);
			};
		},

		emit(next: Emit): Emit {
			return function propagatedEmit(eventName, payload, opts) {
				if (isInternal(eventName) || (opts !== undefined && (typeof opts !== "object" || Array.isArray(opts)))) {
					return next(eventName, payload, opts);
				}
				return next(eventName, payload, { ...opts, meta: withTraceContext(opts?.meta as Record<string, unknown> | undefined) });
			};
		},

		/** Sends the spans still buffered; the broker logs "stopped" and the process exits after this. */
		async stopped() {
			await stopTracing();
		}
	} as unknown as Middleware;
}
