/**
 * The orders service's SQL that its model does not express: the inbox, the history, the expiry
 * sweep, and the Idempotency-Keys' lock and expiry. Each function takes the Sequelize instance and,
 * where it writes or locks, the caller's transaction. A cutoff in time (expiry, retention) is a
 * parameter from the caller's clock, never the database's `now()`, so that a test moves it.
 */
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { HistoryEntry, HistoryTimes } from "../../lib/contracts/history";
import { appendHistory, appendHistoryStep, readHistory, readHistoryTimes, type HistoryStep, type HistoryWindow } from "../../lib/database/history-table";
import type { OrderStatus } from "../../lib/contracts/orders";
import { runStatement, statement, type SqlTransaction } from "../../lib/database/sql";
import type { OrderRow } from "./orders.model";

/** One step of an order, as the orders service records it (`at` is the transaction's time). */
export type NewHistoryEntry = HistoryStep & { status: OrderStatus };

/** An order the sweeper just expired. */
export interface ExpiredOrderRow {
	id: string;
	correlation_id: string;
	created_at: Date | string;
}

/** Adds steps to the history of their orders, in the caller's transaction. */
export function recordHistory(db: Sequelize, t: Transaction, entries: NewHistoryEntry[]): Promise<void> {
	return appendHistory(db, t, "order_history", entries);
}

/** A window of the orders service's history of one order, in the order it was recorded. */
export function loadHistory(db: Sequelize, orderId: string, window: HistoryWindow): Promise<HistoryEntry[]> {
	return readHistory(db, "order_history", "orders", orderId, window);
}

/** The times of the first `limit` entries of the orders service's history of one order, and its length. */
export function loadHistoryTimes(db: Sequelize, orderId: string, limit: number): Promise<HistoryTimes> {
	return readHistoryTimes(db, "order_history", orderId, limit);
}

/**
 * Moves up to `limit` orders that are in `from` and were created before `createdBefore` to `to`
 * (changed `at`), oldest first, and returns them. Rows another instance holds are skipped (it is
 * expiring them), and the status condition is re-checked under the row lock: each order expires
 * once, whoever sweeps. The cutoff is the caller's (its clock's), not the database's `now()`.
 */
export async function expireOverdueOrders(
	db: Sequelize,
	t: Transaction,
	options: { from: OrderStatus[]; to: OrderStatus; createdBefore: Date; at: Date; limit: number }
): Promise<ExpiredOrderRow[]> {
	// One parameter per status, as `IN (…)`: a single status becomes `status = $n`, which reads the
	// (status, created_at) index in order; `= ANY($array)` would sort every overdue order first.
	const from = Object.fromEntries(options.from.map((status, i) => [`from${i}`, status]));
	const inFrom = Object.keys(from).map(name => `$${name}`).join(", ");
	return db.query<ExpiredOrderRow>(
		`UPDATE orders SET status = $to, updated_at = $at
		 WHERE id IN (
		   SELECT id FROM orders
		   WHERE status IN (${inFrom}) AND created_at < $createdBefore
		   ORDER BY created_at LIMIT $limit FOR UPDATE SKIP LOCKED)
		 AND status IN (${inFrom})
		 RETURNING id, correlation_id, created_at`,
		{
			type: QueryTypes.SELECT,
			transaction: t,
			bind: { ...from, to: options.to, createdBefore: options.createdBefore, at: options.at, limit: options.limit }
		}
	);
}

/** Deletes the inbox's event ids recorded before `$before`, by the `processed_at` index (migration 007). */
export const PRUNE_INBOX_SQL = "DELETE FROM processed_events WHERE processed_at < $before RETURNING event_id";

/** Forgets the consumed event ids recorded before `before`; returns how many went. */
export async function pruneProcessedEvents(db: Sequelize, before: Date): Promise<number> {
	const deleted = await db.query(PRUNE_INBOX_SQL, { type: QueryTypes.SELECT, bind: { before } });
	return deleted.length;
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
		 WHERE idempotency_key IS NOT NULL AND created_at < $expireBefore
		 ${only ? "AND idempotency_scope = $scope AND idempotency_key = $key" : ""}
		 RETURNING id`,
		{
			type: QueryTypes.SELECT,
			transaction: only?.transaction,
			bind: only ? { expireBefore, scope: only.scope, key: only.key } : { expireBefore }
		}
	);
	return forgotten.length;
}

// --- the hot path: named prepared statements ----------------------------------------------------

/**
 * A new order, its `created` history step and its `order.created` outbox row, in one statement (its
 * own transaction when it runs alone, or part of the caller's).
 */
const insertOrderStatement = statement(
	"orders.insert-order",
	`WITH new_order AS (
	   INSERT INTO orders (id, customer_id, items, total_amount, currency, status, error_message, correlation_id,
	                       idempotency_key, idempotency_scope, request_hash, created_at, updated_at)
	   VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11, $11)
	 ), history AS (
	   INSERT INTO order_history (order_id, step, status, event_id, correlation_id, node_id, detail)
	   VALUES ($1, $12, $6, $13, $7, $14, $15)
	 )
	 INSERT INTO outbox_events (event_name, consumer_group, payload, meta, trace_context) VALUES ($16, $17, $18, $19, $20)`
);

/** A new order as {@link insertOrderRow} writes it. */
export interface NewOrderRecord {
	row: OrderRow;
	/** Its history step (`created`), with the id of the event it sent. */
	step: { step: string; eventId: string; nodeID: string; detail: Record<string, unknown> };
	/** The `order.created` outbox row: event, group, payload, meta, trace context. */
	outbox: unknown[];
}

function insertOrderValues(o: NewOrderRecord): unknown[] {
	const r = o.row;
	return [
		r.id,
		r.customerId,
		JSON.stringify(r.items),
		r.totalAmount,
		r.currency,
		r.status,
		r.correlationId,
		r.idempotencyKey,
		r.idempotencyScope,
		r.requestHash,
		r.createdAt,
		o.step.step,
		o.step.eventId,
		o.step.nodeID,
		JSON.stringify(o.step.detail),
		...o.outbox
	];
}

/** Writes a new order with its history step and outbox row, in the transaction `tx`. */
export async function insertOrderRow(tx: SqlTransaction, order: NewOrderRecord): Promise<void> {
	await tx.query(insertOrderStatement, insertOrderValues(order));
}

/** Writes a new order with its history step and outbox row, as one statement in a transaction of its own. */
export async function insertOrderAlone(db: Sequelize, order: NewOrderRecord): Promise<void> {
	await runStatement(db, insertOrderStatement, insertOrderValues(order));
}

/**
 * Records a consumed event in the inbox and locks its order, in one statement: the order's row
 * (null when unknown) and whether the event was new (false for a redelivery).
 */
const consumeEventStatement = statement(
	"orders.consume-event",
	`WITH inbox AS (
	   INSERT INTO processed_events (event_id, event_name, order_id) VALUES ($1, $2, $3)
	   ON CONFLICT (event_id) DO NOTHING RETURNING event_id
	 )
	 SELECT (SELECT count(*) FROM inbox) > 0 AS first_time, o.*
	 FROM (SELECT 1) AS one LEFT JOIN LATERAL (
	   SELECT id, customer_id, items, total_amount, currency, status, error_message, correlation_id,
	          idempotency_key, idempotency_scope, request_hash, created_at, updated_at
	   FROM orders WHERE id = $3 FOR UPDATE
	 ) AS o ON true`
);

/** A row of `orders` as the hot path's statements return it. */
interface OrderDbRow {
	id: string;
	customer_id: string;
	items: OrderRow["items"];
	total_amount: string;
	currency: string;
	status: OrderStatus;
	error_message: string | null;
	correlation_id: string;
	idempotency_key: string | null;
	idempotency_scope: string | null;
	request_hash: string | null;
	created_at: Date;
	updated_at: Date;
}

function toOrderRow(r: OrderDbRow): OrderRow {
	return {
		id: r.id,
		customerId: r.customer_id,
		items: r.items,
		totalAmount: r.total_amount,
		currency: r.currency,
		status: r.status,
		errorMessage: r.error_message,
		correlationId: r.correlation_id,
		idempotencyKey: r.idempotency_key,
		idempotencyScope: r.idempotency_scope,
		requestHash: r.request_hash,
		createdAt: r.created_at,
		updatedAt: r.updated_at
	};
}

/**
 * Records a consumed event id in the inbox and locks the event's order for the rest of the
 * transaction: the order (null when unknown) and whether the event is new (false for a redelivery,
 * in which case the caller must change nothing).
 */
export async function consumeOrderEvent(
	tx: SqlTransaction,
	eventId: string,
	eventName: string,
	orderId: string
): Promise<{ firstTime: boolean; order: OrderRow | null }> {
	const [row] = await tx.query<OrderDbRow & { first_time: boolean }>(consumeEventStatement, [eventId, eventName, orderId]);
	return { firstTime: row.first_time, order: row.id ? toOrderRow(row) : null };
}

/** Moves an order to its next status and adds the step to its history, in one statement. */
const changeOrderStatement = statement(
	"orders.change-order",
	`WITH changed AS (
	   UPDATE orders SET status = $2, error_message = $3, updated_at = $4 WHERE id = $1
	 )
	 INSERT INTO order_history (order_id, step, status, event_id, correlation_id, node_id, detail)
	 VALUES ($1, $5, $2, $6, $7, $8, $9)`
);

/** Moves an order to `status` (by primary key) and records the step, in the transaction `tx`. */
export async function changeOrder(
	tx: SqlTransaction,
	change: { orderId: string; status: OrderStatus; errorMessage: string | null; at: Date },
	entry: NewHistoryEntry
): Promise<void> {
	await tx.query(changeOrderStatement, [
		change.orderId,
		change.status,
		change.errorMessage,
		change.at,
		entry.step,
		entry.eventId ?? null,
		entry.correlationId ?? null,
		entry.nodeID,
		entry.detail ? JSON.stringify(entry.detail) : null
	]);
}

/** Adds one step to an order's history, in the transaction `tx`. */
export async function appendStep(tx: SqlTransaction, entry: NewHistoryEntry): Promise<void> {
	await appendHistoryStep(tx, "order_history", entry);
}

/**
 * The usual answer to consumed events in one statement (its own transaction), for one event or a
 * batch: for each event that is new and whose order is in the status the caller expects, moves the
 * order, records the event in the inbox and adds the history step. Returns the orders it moved,
 * with their creation time and correlation id; an event it did not apply changed nothing (the
 * caller then takes the general path). The status is re-checked under the row lock, so a
 * concurrent change of the order (a cancellation, a duplicate delivery) makes an event a no-op
 * rather than a wrong move.
 *
 * Orders are found by primary key only: the status test is written `(status = …) IS TRUE` so that no
 * index can serve it, and the inbox is probed by key through a scalar subquery, which PostgreSQL
 * cannot turn into a join. The statement is prepared once per connection and its generic plan is
 * made from the tables as they were then: written as a plain equality or a `NOT EXISTS`, that plan
 * could read every pending order, or hash the whole inbox, for each batch. The probe is made apart
 * (`ev` is materialized): joined with the orders, its cost for the hundred rows a recordset is
 * assumed to hold would hide the difference between reading a new orders table whole and looking
 * its orders up by key.
 */
const applyUsualStatement = statement(
	"orders.apply-usual",
	`WITH ev AS MATERIALIZED (
	   SELECT * FROM jsonb_to_recordset($1::jsonb) AS e(order_id uuid, event_id text, event_name text, from_status text,
	     to_status text, error_message text, at timestamptz, step text, node_id text, detail jsonb)
	   WHERE (SELECT true FROM processed_events WHERE processed_events.event_id = e.event_id) IS NULL
	 ), changed AS (
	   UPDATE orders SET status = ev.to_status, error_message = COALESCE(ev.error_message, orders.error_message), updated_at = ev.at
	   FROM ev
	   WHERE orders.id = ev.order_id AND (orders.status = ev.from_status) IS TRUE
	   RETURNING orders.id, orders.correlation_id, orders.created_at, ev.event_id, ev.event_name, ev.to_status, ev.step, ev.node_id, ev.detail
	 ), inbox AS (
	   INSERT INTO processed_events (event_id, event_name, order_id) SELECT event_id, event_name, id FROM changed
	 ), history AS (
	   INSERT INTO order_history (order_id, step, status, event_id, correlation_id, node_id, detail)
	   SELECT id, step, to_status, event_id, correlation_id, node_id, detail FROM changed
	 )
	 SELECT id, correlation_id, created_at FROM changed`
);

/** The usual move of an order on a consumed event, for {@link applyUsualMove}. */
export interface UsualMove {
	orderId: string;
	eventId: string;
	eventName: string;
	from: OrderStatus;
	to: OrderStatus;
	/** Set on the order when not null (a failure's message); null keeps the order's. */
	errorMessage: string | null;
	at: Date;
	step: string;
	nodeID: string;
	detail: Record<string, unknown> | null;
}

/** What a usual move did: the order's creation time and correlation id, or null when it changed nothing. */
export type UsualMoveResult = { correlationId: string; createdAt: Date } | null;

/**
 * Applies the usual moves of several events in one statement; one result per move, in their order.
 * Only the first move of an order (or of an event) in the batch is tried: a later one gets null and
 * takes the general path, after this statement committed, as it would have one transaction later.
 */
export async function applyUsualMoves(db: Sequelize, moves: UsualMove[]): Promise<UsualMoveResult[]> {
	const orders = new Set<string>();
	const events = new Set<string>();
	const tried = moves.filter(m => {
		if (orders.has(m.orderId) || events.has(m.eventId)) return false;
		orders.add(m.orderId);
		events.add(m.eventId);
		return true;
	});
	const rows = await runStatement<{ id: string; correlation_id: string; created_at: Date }>(db, applyUsualStatement, [
		JSON.stringify(
			tried.map(m => ({
				order_id: m.orderId,
				event_id: m.eventId,
				event_name: m.eventName,
				from_status: m.from,
				to_status: m.to,
				error_message: m.errorMessage,
				at: m.at.toISOString(),
				step: m.step,
				node_id: m.nodeID,
				detail: m.detail
			}))
		)
	]);
	const moved = new Map(rows.map(r => [r.id, { correlationId: r.correlation_id, createdAt: r.created_at }]));
	const triedMoves = new Set(tried);
	return moves.map(m => (triedMoves.has(m) ? (moved.get(m.orderId) ?? null) : null));
}

