/**
 * Remembers why a balanced event handler failed, so the transporter that delivered the message can
 * decide between retrying and dead-lettering it.
 *
 * Moleculer's `transit.eventHandler` swallows a handler's error and resolves `false`; the only place
 * that still sees the error is the broker's `errorHandler`. Every context copied from the incoming
 * event shares the packet's `params` object, so that object is the key both sides can see.
 */
const failures = new WeakMap<object, Error>();

/** Record the error of a failed event handler against the event's params object. */
export function recordEventFailure(params: unknown, err: Error): void {
	if (params !== null && typeof params === "object") failures.set(params, err);
}

/** Take (and forget) the error recorded for an event's params object. */
export function takeEventFailure(params: unknown): Error | undefined {
	if (params === null || typeof params !== "object") return undefined;
	const err = failures.get(params);
	failures.delete(params);
	return err;
}

/**
 * A broker `errorHandler` that records event handler errors and rethrows every error, so actions and
 * events keep Moleculer's default behaviour.
 */
export function eventAwareErrorHandler(
	err: Error,
	info: { ctx?: { params?: unknown }; event?: unknown }
): never {
	if (info?.event && info.ctx) recordEventFailure(info.ctx.params, err);
	throw err;
}
