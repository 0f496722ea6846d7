/**
 * The orders service's SQL that its model does not express: the inbox, the history, the expiry
 * sweep, and the Idempotency-Keys' lock and expiry. Each function takes the Sequelize instance and, where it
 * writes or locks, the caller's transaction.
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
	created_at: Date | string;
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
		 RETURNING id, correlation_id, created_at`,
		{
			type: QueryTypes.SELECT,
			transaction: t,
			replacements: { from: options.from, to: options.to, timeoutSeconds: options.timeoutMs / 1000, limit: options.limit }
		}
	);
}

/**
 * Takes the lock of one caller's Idempotency-Key for the rest of the transaction, without waiting;
 * false when another transaction, of any process, holds it (its request is still being processed).
 * PostgreSQL releases the lock when the transaction ends, and when its connection dies with its
 * process: a crash never leaves a key locked.
 */
export async function tryLockIdempotencyKey(db: Sequelize, t: Transaction, scope: string, key: string): Promise<boolean> {
	const [row] = await db.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0)) AS locked", {
		type: QueryTypes.SELECT,
		transaction: t,
		replacements: { name: `orders.idempotency-key:${JSON.stringify([scope, key])}` }
	});
	return row.locked;
}

/**
 * Forgets the Idempotency-Keys of the orders created before `expireBefore` (the orders stay, without
 * a key); with `only`, that one caller's key, in the caller's transaction. Returns how many went.
 */
export async function forgetExpiredIdempotencyKeys(
	db: Sequelize,
	expireBefore: Date,
	only?: { transaction: Transaction; scope: string; key: string }
): Promise<number> {
	const forgotten = await db.query(
		`UPDATE orders SET idempotency_key = NULL, idempotency_scope = NULL, request_hash = NULL
		 WHERE idempotency_key IS NOT NULL AND created_at < :expireBefore
		 ${only ? "AND idempotency_scope = :scope AND idempotency_key = :key" : ""}
		 RETURNING id`,
		{
			type: QueryTypes.SELECT,
			transaction: only?.transaction,
			replacements: { expireBefore, scope: only?.scope ?? null, key: only?.key ?? null }
		}
	);
	return forgotten.length;
}
