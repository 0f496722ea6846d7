/**
 * Two broker middlewares that correct how Moleculer calls actions when the built-in balancer is
 * disabled (as it is here with a transporter, so that events wait in RabbitMQ's durable queues).
 */
import { Errors, ServiceBroker, type CallingOptions, type Context, type Middleware } from "moleculer";

type ActionEndpoint = { local: boolean; id: string; action: { name: string } };
type Call = (actionName: string | ActionEndpoint, params?: unknown, opts?: CallingOptions) => Promise<unknown>;

/** Moleculer's own balanced `call`, which runs a local endpoint in-process. */
const balancedCall = ServiceBroker.prototype.call as unknown as Call;

/** The endpoint of this process that can serve `action`, if any (and if the call may go there). */
export function localEndpoint(
	broker: ServiceBroker,
	action: string | ActionEndpoint,
	opts: CallingOptions = {}
): ActionEndpoint | null {
	if (typeof action !== "string") return action.local ? action : null;
	if (opts.nodeID && opts.nodeID !== broker.nodeID) return null;
	const endpoints = (broker.registry as unknown as {
		getActionEndpoints(name: string): { hasLocal(): boolean; nextLocal(): ActionEndpoint | null } | undefined;
	}).getActionEndpoints(action);
	if (!endpoints?.hasLocal()) return null;
	return endpoints.nextLocal() ?? null;
}

/**
 * Calls an action of this process in-process, whatever the transporter's state.
 *
 * With `disableBalancer`, Moleculer sends every call through the transporter, even one to a
 * service of the same process: with RabbitMQ away, `api,orders` in one process refused every order
 * although orders (and its outbox) were right there. A call that a local endpoint can serve now
 * runs locally; any other goes to the action's shared queue by name — also when the caller passed a
 * remote endpoint object, as moleculer-web does — and fails at once with `BrokerDisconnectedError`
 * (a 503 at the gateway) while the broker is down.
 *
 * It replaces `broker.call` once the broker is created rather than using a `call` hook: Moleculer's
 * interceptor around `call` hooks keeps the last promise the next hook returned and pins its
 * context on later calls, so a local call made after a remote one would merge the remote call's
 * `meta` (status code, headers) into the caller's.
 */
export function LocalFirstCalls(): Middleware {
	return {
		name: "LocalFirstCalls",
		created(broker: ServiceBroker) {
			if (!broker.options.disableBalancer) return;
			const remoteCall = broker.call as unknown as Call;
			(broker as unknown as { call: Call }).call = function localFirstCall(actionName, params, opts = {}) {
				const endpoint = localEndpoint(broker, actionName, opts);
				if (endpoint) return balancedCall.call(broker, endpoint, params, opts);
				// A remote endpoint someone picked from the registry (moleculer-web does) may be a node
				// killed with -9 that stays listed until its heartbeat times out: a request sent to it
				// waits for nobody. By name, it goes to the action's shared queue, which only live
				// nodes consume.
				const name = typeof actionName === "string" ? actionName : actionName.action.name;
				return remoteCall.call(broker, name, params, opts);
			};
		}
	} as unknown as Middleware;
}

/**
 * Settles a remote call when its timeout passes.
 *
 * Moleculer's timeout rejects the caller's promise, but the request inside stays pending until an
 * answer comes — for ever if none does — and the context tracker (which wraps the request, inside
 * the timeout) keeps it: a node's shutdown then waited its whole shutdown timeout for a call that
 * had already failed. Registered as a user middleware, this wraps the request inside the tracker:
 * at the timeout it forgets the pending request and rejects, so the tracker lets go of it.
 */
export function SettleTimedOutRemoteCalls(broker: ServiceBroker): Middleware {
	const transit = () => broker.transit as unknown as { removePendingRequest(id: string): void } | undefined;
	return {
		name: "SettleTimedOutRemoteCalls",
		remoteAction(handler: (ctx: Context) => Promise<unknown>) {
			return function settleOnTimeout(ctx: Context) {
				const timeout = Number(ctx.options.timeout ?? 0);
				const request = handler(ctx);
				if (!(timeout > 0)) return request;
				let timer: NodeJS.Timeout | undefined;
				const expired = new Promise<never>((_, reject) => {
					timer = setTimeout(() => {
						transit()?.removePendingRequest(ctx.id);
						reject(new Errors.RequestTimeoutError({ action: ctx.action?.name, nodeID: ctx.nodeID }));
					}, timeout);
					timer.unref();
				});
				return Promise.race([request, expired]).finally(() => clearTimeout(timer));
			};
		}
	} as unknown as Middleware;
}
