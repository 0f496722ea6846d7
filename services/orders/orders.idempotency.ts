/**
 * Idempotency-Keys of `orders.create` (draft-ietf-httpapi-idempotency-key-header). A key belongs to
 * its caller (its scope: the caller's `sub`, '' from inside the cluster). The same caller's same key
 * answers with the first order for the same request, 422 for another; 409 while the first request
 * is still being processed, by any instance; a key lives `idempotencyKeyTtlMs` from its first
 * order's creation, then makes a new order.
 *
 * Requires the database mixin and the orders service's `insertOrder`.
 */
import type { ServiceSettingSchema } from "moleculer";
import type { Transaction } from "sequelize";
import type { AnyServiceSchema, PartialSettingsSchema } from "../../lib/broker/service-schema";
import type { DbMethods, DbVars } from "../../mixins/db.mixin";
import type { OrderRequest } from "./orders.domain";
import { IdempotencyKeyInFlightError, IdempotencyKeyReusedError } from "./orders.errors";
import { toOrderView, type OrderModel, type OrderRow } from "./orders.model";
import { forgetExpiredIdempotencyKeys, tryLockIdempotencyKey } from "./orders.repository";
import type { CreatedOrder, OrdersMeta } from "./orders.types";

/** How often expired Idempotency-Keys are taken off their orders. */
const PRUNE_INTERVAL_MS = 60_000;

/** Settings of the Idempotency-Keys. */
export interface OrdersIdempotencySettings extends ServiceSettingSchema {
	/**
	 * How long an Idempotency-Key answers with its first order (IDEMPOTENCY_KEY_TTL_MS), counted
	 * from that order's creation; after that the key is free and makes a new order.
	 */
	idempotencyKeyTtlMs: number;
}

/** A create request's Idempotency-Key: whose it is, the key, and the fingerprint of the request. */
export interface IdempotentRequest {
	scope: string;
	key: string;
	fingerprint: string;
}

/** The methods of the Idempotency-Keys. */
export interface OrdersIdempotencyMethods {
	/** Creates the order of a request with an Idempotency-Key, or answers as its first request did. */
	createOnce(request: OrderRequest, meta: OrdersMeta, idempotency: IdempotentRequest): Promise<CreatedOrder>;
	/** Answers a repeated Idempotency-Key: the first order for the same request, 422 for another. */
	replayIdempotent(existing: OrderRow, key: string, fingerprint: string): CreatedOrder;
	/** The creation time before which an order's Idempotency-Key has expired. */
	idempotencyKeysExpireBefore(): Date;
	/** Takes the expired Idempotency-Keys off their orders; returns how many. */
	pruneIdempotencyKeys(): Promise<number>;
}

/** What the Idempotency-Keys keep on the service instance. */
export interface OrdersIdempotencyVars {
	/** The Idempotency-Keys (scope and key, as JSON) of the creates this instance is processing. */
	keysInFlight: Set<string>;
	/** Prunes the expired keys every {@link PRUNE_INTERVAL_MS}. */
	idempotencyPruneTimer?: NodeJS.Timeout;
}

/** What the Idempotency-Keys need of the service they are mixed into. */
interface HostMethods extends DbMethods {
	insertOrder(t: Transaction | null, request: OrderRequest, meta: OrdersMeta, idempotency: IdempotentRequest | null): Promise<CreatedOrder>;
}

type OrdersIdempotencySchema = PartialSettingsSchema<
	OrdersIdempotencySettings,
	OrdersIdempotencyMethods & HostMethods,
	OrdersIdempotencyVars & DbVars<OrderModel>
>;

const ordersIdempotencySchema: OrdersIdempotencySchema = {
	name: "orders-idempotency",

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Creates the order of a request with an Idempotency-Key, or answers as its first request
		 * did. While the first one is being processed, by this process or another, the key is locked
		 * and a repeat is answered 409: this process keeps the keys it is processing (the embedded
		 * database serves one transaction at a time, so the repeat would only wait for it), and the
		 * database's lock, taken in the transaction that inserts the order, holds across processes.
		 * A key older than `idempotencyKeyTtlMs` is forgotten first: it is neither replayed nor in
		 * the way of the new order.
		 */
		async createOnce(request: OrderRequest, meta: OrdersMeta, idempotency: IdempotentRequest): Promise<CreatedOrder> {
			const { scope, key, fingerprint } = idempotency;
			const inFlight = JSON.stringify([scope, key]);
			if (this.keysInFlight.has(inFlight)) throw new IdempotencyKeyInFlightError(key);
			this.keysInFlight.add(inFlight);
			try {
				return await this.transaction(async (t: Transaction) => {
					if (!(await tryLockIdempotencyKey(this.db(), t, scope, key))) throw new IdempotencyKeyInFlightError(key);
					await forgetExpiredIdempotencyKeys(this.db(), this.idempotencyKeysExpireBefore(), { transaction: t, scope, key });
					const Order: OrderModel = this.model;
					const existing = await Order.findOne({ where: { idempotencyScope: scope, idempotencyKey: key }, transaction: t });
					if (existing) return this.replayIdempotent(existing.get({ plain: true }), key, fingerprint);
					return this.insertOrder(t, request, meta, idempotency);
				});
			} finally {
				this.keysInFlight.delete(inFlight);
			}
		},

		/** Answers a repeated Idempotency-Key: the first order for the same request, 422 for another. */
		replayIdempotent(existing: OrderRow, key: string, fingerprint: string): CreatedOrder {
			if (existing.requestHash !== fingerprint) throw new IdempotencyKeyReusedError(key);
			return { order: toOrderView(existing), replayed: true };
		},

		/** The creation time before which an order's Idempotency-Key has expired. */
		idempotencyKeysExpireBefore(): Date {
			return new Date(Date.now() - this.settings.idempotencyKeyTtlMs);
		},

		/**
		 * Takes the expired Idempotency-Keys off their orders; returns how many. Nothing depends on
		 * it (a create forgets an expired key it meets): it keeps the keys' index small.
		 */
		pruneIdempotencyKeys(): Promise<number> {
			return forgetExpiredIdempotencyKeys(this.db(), this.idempotencyKeysExpireBefore());
		}
	},

	// --- lifecycle -------------------------------------------------------------------------------
	created() {
		this.keysInFlight = new Set();
	},

	started() {
		this.idempotencyPruneTimer = this.everyWhileReady(PRUNE_INTERVAL_MS, "Pruning expired Idempotency-Keys failed; it runs again later.", () =>
			this.pruneIdempotencyKeys()
		);
	},

	stopped() {
		clearInterval(this.idempotencyPruneTimer);
	}
};

/** The Idempotency-Keys of `orders.create` ({@link ordersIdempotencySchema}), for the orders service's `mixins`. */
export const OrdersIdempotencyMixin: Partial<AnyServiceSchema> = ordersIdempotencySchema;
