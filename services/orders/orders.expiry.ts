/**
 * The expiry sweeper of the orders service: a pending order that no answer reached within
 * ORDER_TIMEOUT_MS expires, and the processor is asked to undo what it did (`order.cancelled`,
 * cause "expired"). Several instances may sweep one database: each order expires once.
 *
 * Requires the database and outbox mixins and the saga mixin's `queueCancellations`.
 */
import type { ServiceSettingSchema } from "moleculer";
import type { Transaction } from "sequelize";
import { OrderStatus } from "../../lib/contracts/orders";
import type { AnyServiceSchema, PartialSettingsSchema } from "../../lib/broker/service-schema";
import type { DbMethods, DbVars } from "../../mixins/db.mixin";
import { HistorySteps, OrderTriggers, decideOrder, expirySweepIntervalMs, statusesMovedBy } from "./orders.domain";
import { expireOverdueOrders, recordHistory, type NewHistoryEntry } from "./orders.repository";
import type { OrdersSagaMethods } from "./orders.saga";
import { isOutcomeStatus, recordOrderFinished } from "../../lib/metrics/business-metrics";

/** Orders expired per sweeper transaction. */
const EXPIRY_BATCH_SIZE = 100;

/** Settings of the expiry sweeper. */
export interface OrdersExpirySettings extends ServiceSettingSchema {
	/** How long an order may stay `pending` before the sweeper expires it (ORDER_TIMEOUT_MS). */
	orderTimeoutMs: number;
}

/** The methods of the expiry sweeper. */
export interface OrdersExpiryMethods {
	/** Expires the orders no answer reached in time; returns how many. */
	expireOverdueOrders(): Promise<number>;
}

/** What the expiry sweeper keeps on the service instance. */
export interface OrdersExpiryVars {
	/** Runs the sweeper every {@link expirySweepIntervalMs}. */
	expiryTimer?: NodeJS.Timeout;
	/** The sweep under way, if any: one at a time, and awaited at stop. */
	expirySweep?: Promise<unknown>;
}

type OrdersExpirySchema = PartialSettingsSchema<
	OrdersExpirySettings,
	OrdersExpiryMethods & Pick<OrdersSagaMethods, "queueCancellations"> & DbMethods,
	OrdersExpiryVars & DbVars
>;

const ordersExpirySchema: OrdersExpirySchema = {
	name: "orders-expiry",

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Expires the orders no answer reached within `orderTimeoutMs`, a batch per transaction: the
		 * SQL carries out what the state machine decides for a pending order that timed out (its
		 * status condition and row locks make each order expire once, whichever instance sweeps),
		 * and each order gets its `order.cancelled` and its history entry. Returns how many expired.
		 */
		async expireOverdueOrders(): Promise<number> {
			const expiry = decideOrder({ id: "", status: OrderStatus.Pending, errorMessage: null }, OrderTriggers.TimedOut);
			if (expiry.outcome !== "apply") return 0;
			const from = statusesMovedBy(OrderTriggers.TimedOut);
			let total = 0;
			for (;;) {
				const expired = await this.transaction(async (t: Transaction) => {
					const rows = await expireOverdueOrders(this.db(), t, {
						from,
						to: expiry.next,
						timeoutMs: this.settings.orderTimeoutMs,
						limit: EXPIRY_BATCH_SIZE
					});
					const now = new Date();
					const entries: NewHistoryEntry[] = [];
					for (const row of rows) {
						const order = { id: row.id, correlationId: row.correlation_id };
						entries.push({
							orderId: row.id,
							step: HistorySteps.Expired,
							status: expiry.next,
							eventId: await this.queueCancellations(t, order, expiry.emit, undefined, now),
							correlationId: row.correlation_id,
							nodeID: this.broker.nodeID,
							detail: { timeoutMs: this.settings.orderTimeoutMs }
						});
					}
					await recordHistory(this.db(), t, entries);
					return rows;
				});
				const expiredAt = new Date();
				for (const row of expired) {
					if (isOutcomeStatus(expiry.next)) recordOrderFinished(this.broker, expiry.next, row.created_at, expiredAt);
					this.logger.info("Order expired: no answer came in time.", { orderId: row.id, correlationId: row.correlation_id, status: expiry.next });
				}
				total += expired.length;
				if (expired.length < EXPIRY_BATCH_SIZE) return total;
			}
		}
	},

	// --- lifecycle -------------------------------------------------------------------------------
	started() {
		this.expiryTimer = setInterval(() => {
			if (!this.adapter?.ready || this.expirySweep) return;
			this.expirySweep = this.expireOverdueOrders()
				.catch((err: Error) => this.logger.warn("Expiry sweep failed; it runs again shortly.", err))
				.finally(() => (this.expirySweep = undefined));
		}, expirySweepIntervalMs(this.settings.orderTimeoutMs));
		this.expiryTimer.unref();
	},

	async stopped() {
		clearInterval(this.expiryTimer);
		// The database closes after this: let a sweep under way commit or roll back first.
		await this.expirySweep;
	}
};

/** The expiry sweeper ({@link ordersExpirySchema}), for the orders service's `mixins`. */
export const OrdersExpiryMixin: Partial<AnyServiceSchema> = ordersExpirySchema;
