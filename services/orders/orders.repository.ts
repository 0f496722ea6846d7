/**
 * The orders service's SQL that its model does not express: the inbox, the history, and the expiry
 * sweep. Each function takes the Sequelize instance and, where it writes, the caller's transaction.
 */
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { HistoryEntry } from "../../lib/contracts/history";
import { appendHistory, readHistory, type HistoryStep } from "../../lib/database/history-table";
import type { OrderStatus } from "../../lib/contracts/orders";

/** One step of an order, as the orders service records it (`at` is the transaction's time). */
export type NewHistoryEntry = HistoryStep & { status: OrderStatus };

/** An order the sweeper just expired. */
export interface ExpiredOrderRow {
	id: string;
	correlation_id: string;
}

/**
 * Records a consumed event id in the inbox; false when it was there already (a redelivery), in
 * which case the caller must change nothing.
 */
export async function recordInboxEvent(db: Sequelize, t: Transaction, eventId: string, eventName: string, orderId: string): Promise<boolean> {
	const inserted = await db.query(
		`INSERT INTO processed_events (event_id, event_name, order_id) VALUES (:eventId, :eventName, :orderId)
		 ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
		{ type: QueryTypes.SELECT, transaction: t, replacements: { eventId, eventName, orderId } }
	);
	return inserted.length > 0;
}

/** Adds steps to the history of their orders, in the caller's transaction. */
export function recordHistory(db: Sequelize, t: Transaction, entries: NewHistoryEntry[]): Promise<void> {
	return appendHistory(db, t, "order_history", entries);
}

/** The orders service's history of one order, in the order it was recorded. */
export function loadHistory(db: Sequelize, orderId: string): Promise<HistoryEntry[]> {
	return readHistory(db, "order_history", "orders", orderId);
}

/**
 * Moves up to `limit` orders that stayed in `from` longer than the timeout to `to`, oldest first,
 * and returns them. Rows another instance holds are skipped (it is expiring them), and the status
 * condition is re-checked under the row lock: each order expires once, whoever sweeps.
 */
export async function expireOverdueOrders(
	db: Sequelize,
	t: Transaction,
	options: { from: OrderStatus[]; to: OrderStatus; timeoutMs: number; limit: number }
): Promise<ExpiredOrderRow[]> {
	return db.query<ExpiredOrderRow>(
		`UPDATE orders SET status = :to, updated_at = now()
		 WHERE id IN (
		   SELECT id FROM orders
		   WHERE status IN (:from) AND created_at < now() - make_interval(secs => :timeoutSeconds)
		   ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED)
		 AND status IN (:from)
		 RETURNING id, correlation_id`,
		{
			type: QueryTypes.SELECT,
			transaction: t,
			replacements: { from: options.from, to: options.to, timeoutSeconds: options.timeoutMs / 1000, limit: options.limit }
		}
	);
}
