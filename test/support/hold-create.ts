/**
 * Holds the next `orders.create` of one orders service inside its transaction: the order row is
 * inserted (uncommitted) and its Idempotency-Key locked, and nothing is committed until the test
 * lets it go. The hold sits right after the saga's `insertOrder`, which a create with an
 * Idempotency-Key runs inside the transaction that holds the key's lock.
 */
import type { Service } from "moleculer";

type InsertOrder = (...args: unknown[]) => Promise<unknown>;

export interface HeldCreate {
	/** Resolves once the create is inside its transaction, its row inserted. */
	reached: Promise<void>;
	/** Lets the create go on (and commit, unless its connection is gone). */
	release(): void;
	/** Makes the create fail where it is held, as a crash of the request would. */
	fail(error: Error): void;
}

export function holdNextCreate(ordersService: Service): HeldCreate {
	const service = (ordersService as unknown as { saga: { insertOrder: InsertOrder } }).saga;
	const original: InsertOrder = service.insertOrder.bind(service);
	let reached!: () => void;
	let settle!: (error?: Error) => void;
	const reachedPromise = new Promise<void>(resolve => (reached = resolve));
	const gate = new Promise<Error | undefined>(resolve => (settle = resolve));
	service.insertOrder = async (...args: unknown[]) => {
		// Only a create inside a transaction (one with an Idempotency-Key) can be held uncommitted.
		if (args[0] === null) return original(...args);
		service.insertOrder = original;
		const inserted = await original(...args);
		reached();
		const error = await gate;
		if (error) throw error;
		return inserted;
	};
	return { reached: reachedPromise, release: () => settle(), fail: error => settle(error) };
}
