/**
 * Holds the next `orders.create` of one orders service inside its transaction: the order row is
 * inserted (uncommitted) and its Idempotency-Key locked, and nothing is committed until the test
 * lets it go. The hold sits in the service's `enqueueEvent`, which the create calls in its
 * transaction for `order.created`; other events pass through.
 */
import type { Service } from "moleculer";
import { Events } from "../../lib/contracts/events";

type EnqueueEvent = (...args: unknown[]) => Promise<unknown>;

export interface HeldCreate {
	/** Resolves once the create is inside its transaction, its row inserted. */
	reached: Promise<void>;
	/** Lets the create go on (and commit, unless its connection is gone). */
	release(): void;
	/** Makes the create fail where it is held, as a crash of the request would. */
	fail(error: Error): void;
}

export function holdNextCreate(ordersService: Service): HeldCreate {
	const service = ordersService as unknown as { enqueueEvent: EnqueueEvent };
	const original = service.enqueueEvent;
	let reached!: () => void;
	let settle!: (error?: Error) => void;
	const reachedPromise = new Promise<void>(resolve => (reached = resolve));
	const gate = new Promise<Error | undefined>(resolve => (settle = resolve));
	service.enqueueEvent = async (...args: unknown[]) => {
		if (args[1] !== Events.OrderCreated) return original(...args);
		service.enqueueEvent = original;
		reached();
		const error = await gate;
		if (error) throw error;
		return original(...args);
	};
	return { reached: reachedPromise, release: () => settle(), fail: error => settle(error) };
}
