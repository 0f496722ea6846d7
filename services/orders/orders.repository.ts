/**
 * The orders service's SQL that its model does not express: the inbox, the history, and the expiry
 * sweep. Each function takes the Sequelize instance and, where it writes, the caller's transaction.
 */
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { HistoryEntry } from "../../lib/contracts/history";
import type { OrderStatus } from "../../lib/contracts/orders";

/** One step of an order, as the orders service records it (`at` is the transaction's time). */
export interface NewHistoryEntry {
	orderId: string;
	step: string;
	status: OrderStatus;
	eventId?: string | null;
	correlationId?: string | null;
	nodeID: string;
	detail?: Record<string, unknown> | null;
}

interface HistoryRow {
	at: Date;
	step: string;
	status: string;
	event_id: string | null;
	correlation_id: string | null;
	node_id: string;
	detail: Record<string, unknown> | null;
}

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
export async function recordHistory(db: Sequelize, t: Transaction, entries: NewHistoryEntry[]): Promise<void> {
	if (entries.length === 0) return;
	const rows = entries.map((_, i) => `(:orderId${i}, :step${i}, :status${i}, :eventId${i}, :correlationId${i}, :nodeID${i}, CAST(:detail${i} AS jsonb))`);
	const replacements: Record<string, unknown> = {};
	entries.forEach((e, i) => {
		replacements[`orderId${i}`] = e.orderId;
		replacements[`step${i}`] = e.step;
		replacements[`status${i}`] = e.status;
		replacements[`eventId${i}`] = e.eventId ?? null;
		replacements[`correlationId${i}`] = e.correlationId ?? null;
		replacements[`nodeID${i}`] = e.nodeID;
		replacements[`detail${i}`] = e.detail ? JSON.stringify(e.detail) : null;
	});
	await db.query(
		`INSERT INTO order_history (order_id, step, status, event_id, correlation_id, node_id, detail) VALUES ${rows.join(", ")}`,
		{ transaction: t, replacements }
	);
}

/** The orders service's history of one order, in the order it was recorded. */
export async function loadHistory(db: Sequelize, orderId: string): Promise<HistoryEntry[]> {
	const rows = await db.query<HistoryRow>(
		`SELECT at, step, status, event_id, correlation_id, node_id, detail
		 FROM order_history WHERE order_id = :orderId ORDER BY id`,
		{ type: QueryTypes.SELECT, replacements: { orderId } }
	);
	return rows.map(row => ({
		at: new Date(row.at).toISOString(),
		service: "orders",
		step: row.step,
		status: row.status,
		eventId: row.event_id,
		correlationId: row.correlation_id,
		nodeID: row.node_id,
		detail: row.detail
	}));
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
