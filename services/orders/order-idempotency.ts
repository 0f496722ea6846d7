/**
 * Idempotency-Keys of `orders.create` (draft-ietf-httpapi-idempotency-key-header). A key belongs to
 * its caller (its scope: the caller's `sub`, '' from inside the cluster). The same caller's same key
 * answers with the first order for the same request, 422 for another; 409 while the first request
 * is still being processed, by any instance; a key lives `idempotencyKeyTtlMs` from its first
 * order's creation, then makes a new order.
 */
import type { Sequelize, Transaction } from "sequelize";
import type { Clock } from "../../lib/clock";
import { IdempotencyKeyInFlightError, IdempotencyKeyReusedError } from "./orders.errors";
import { toOrderView, type OrderModel, type OrderRow } from "./orders.model";
import { forgetExpiredIdempotencyKeys, tryLockIdempotencyKey } from "./orders.repository";
import type { OrderSagaSettings } from "./order-saga.types";
import type { CreatedOrder } from "./orders.types";

/** A create request's Idempotency-Key: whose it is, the key, and the fingerprint of the request. */
export interface IdempotentRequest {
	scope: string;
	key: string;
	fingerprint: string;
}

/** What the Idempotency-Keys need: the database and its orders model, the clock, the keys' lifetime. */
export interface IdempotencyKeysDeps {
	db(): Sequelize;
	model(): OrderModel;
	clock: Clock;
	/** Read at each use: `idempotencyKeyTtlMs`, how long a key answers with its first order. */
	settings: Pick<OrderSagaSettings, "idempotencyKeyTtlMs">;
}

/** Answers a repeated Idempotency-Key: the first order for the same request, 422 for another. */
function replay(existing: OrderRow, key: string, fingerprint: string): CreatedOrder {
	if (existing.requestHash !== fingerprint) throw new IdempotencyKeyReusedError(key);
	return { order: toOrderView(existing), replayed: true };
}

export class IdempotencyKeys {
	/** The keys (scope and key, as JSON) of the creates this process is processing. */
	private readonly inFlight = new Set<string>();

	constructor(private readonly deps: IdempotencyKeysDeps) {}

	/**
	 * Creates the order of a request with an Idempotency-Key (`insert`, in the transaction that holds
	 * the key's lock), or answers as its first request did. While the first one is being processed,
	 * by this process or another, a repeat is answered 409: this process keeps the keys it is
	 * processing (the embedded database serves one transaction at a time, so the repeat would only
	 * wait for it), and the database's lock holds across processes. An expired key is forgotten
	 * first: it is neither replayed nor in the way of the new order.
	 */
	async createOnce(idempotency: IdempotentRequest, insert: (t: Transaction) => Promise<CreatedOrder>): Promise<CreatedOrder> {
		const { scope, key, fingerprint } = idempotency;
		const inFlight = JSON.stringify([scope, key]);
		if (this.inFlight.has(inFlight)) throw new IdempotencyKeyInFlightError(key);
		this.inFlight.add(inFlight);
		try {
			const db = this.deps.db();
			return await db.transaction(async t => {
				if (!(await tryLockIdempotencyKey(db, t, scope, key))) throw new IdempotencyKeyInFlightError(key);
				await forgetExpiredIdempotencyKeys(db, this.expireBefore(), { transaction: t, scope, key });
				const existing = await this.deps.model().findOne({ where: { idempotencyScope: scope, idempotencyKey: key }, transaction: t });
				if (existing) return replay(existing.get({ plain: true }), key, fingerprint);
				return insert(t);
			});
		} finally {
			this.inFlight.delete(inFlight);
		}
	}

	/**
	 * Takes the expired keys off their orders; returns how many. Nothing depends on it (a create
	 * forgets an expired key it meets): it keeps the keys' index small.
	 */
	prune(): Promise<number> {
		return forgetExpiredIdempotencyKeys(this.deps.db(), this.expireBefore());
	}

	/** The creation time before which an order's key has expired, by the clock. */
	private expireBefore(): Date {
		return new Date(this.deps.clock.now() - this.deps.settings.idempotencyKeyTtlMs);
	}
}
