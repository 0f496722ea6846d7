/**
 * The processor's data access: processing records, stock with its reservations and ledger, and the
 * history of each order. Plain SQL on the service's Sequelize instance, plain objects back; every
 * function that changes something runs in the caller's transaction.
 */
import { randomUUID } from "node:crypto";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { ReleasedLine } from "../../lib/contracts/events";
import type { HistoryEntry, HistoryTimes } from "../../lib/contracts/history";
import { appendHistoryStep, readHistory, readHistoryTimes, type HistoryStep, type HistoryWindow } from "../../lib/database/history-table";
import { statement, type SqlTransaction } from "../../lib/database/sql";
import { ProcessingStatus, type RecordState, type ReservationLine, type StockLevel } from "./processor.domain";

/** One SKU's stock, as the stock actions answer it. */
export interface StockView {
	sku: string;
	available: number;
	reserved: number;
}

/** What a new processing record starts with. */
export interface NewRecord {
	orderId: string;
	/** The event that made the record: an `order.created`, or the `order.cancelled` of a tombstone. */
	eventId: string;
	correlationId: string;
	status: ProcessingStatus;
}

/** One step to add to an order's history. */
export type HistoryStepRecord = HistoryStep;

/**
 * Inserts the order's record unless it has one (one record per order, whatever the number of
 * deliveries), made at `now`; true when this call inserted it. A `CANCELLED` record is a tombstone:
 * it is inserted with its cancellation already handled.
 */
export async function insertRecord(db: Sequelize, record: NewRecord, now: Date, t?: Transaction): Promise<boolean> {
	const inserted = await db.query(
		`INSERT INTO processing_records (id, order_id, event_id, status, correlation_id, cancelled_at, created_at, updated_at)
		 VALUES (:id, :orderId, :eventId, :status, :correlationId, :cancelledAt, :now, :now)
		 ON CONFLICT (order_id) DO NOTHING
		 RETURNING id`,
		{
			type: QueryTypes.SELECT,
			transaction: t,
			replacements: {
				...record,
				id: randomUUID(),
				cancelledAt: record.status === ProcessingStatus.Cancelled ? now : null,
				now
			}
		}
	);
	return inserted.length > 0;
}

/** Locks the order's record for the rest of the transaction and returns its state, or null when it has none. */
export async function lockRecord(db: Sequelize, t: Transaction, orderId: string): Promise<RecordState | null> {
	const [row] = await db.query<{ status: ProcessingStatus; cancelled_at: Date | null }>(
		"SELECT status, cancelled_at FROM processing_records WHERE order_id = :orderId FOR UPDATE",
		{ type: QueryTypes.SELECT, transaction: t, replacements: { orderId } }
	);
	return row ? { status: row.status, cancellationHandled: row.cancelled_at !== null } : null;
}

/** Records that the order's cancellation was handled, and the status it left the record in. */
export async function markCancelled(db: Sequelize, t: Transaction, orderId: string, status: ProcessingStatus): Promise<void> {
	await db.query(
		"UPDATE processing_records SET status = :status, cancelled_at = now(), updated_at = now() WHERE order_id = :orderId",
		{ transaction: t, replacements: { orderId, status } }
	);
}

/**
 * Releases every live reservation of the order: marks it released, moves its units back from
 * reserved to available, and writes a `release` movement; returns the released lines, by SKU.
 */
export async function releaseStock(db: Sequelize, t: Transaction, orderId: string, eventId: string): Promise<ReleasedLine[]> {
	const released = await db.query<ReleasedLine>(
		`UPDATE stock_reservations SET released_at = now() WHERE order_id = :orderId AND released_at IS NULL
		 RETURNING sku, quantity`,
		{ type: QueryTypes.SELECT, transaction: t, replacements: { orderId } }
	);
	// Stock rows are updated in SKU order, as they are locked when reserving.
	const lines = released.map(r => ({ sku: r.sku, quantity: Number(r.quantity) })).sort((a, b) => a.sku.localeCompare(b.sku));
	for (const line of lines) {
		await db.query(
			`UPDATE stock SET available = available + :quantity, reserved = reserved - :quantity, updated_at = now()
			 WHERE sku = :sku`,
			{ transaction: t, replacements: { ...line } }
		);
		await db.query(
			"INSERT INTO stock_movements (order_id, sku, kind, quantity, event_id) VALUES (:orderId, :sku, 'release', :quantity, :eventId)",
			{ transaction: t, replacements: { orderId, eventId, ...line } }
		);
	}
	return lines;
}

/** One SKU's stock, or null when no row has this SKU. */
export async function findStock(db: Sequelize, sku: string): Promise<StockView | null> {
	const [row] = await db.query<StockView>("SELECT sku, available, reserved FROM stock WHERE sku = :sku", {
		type: QueryTypes.SELECT,
		replacements: { sku }
	});
	return row ? { sku: row.sku, available: Number(row.available), reserved: Number(row.reserved) } : null;
}

/** Sets one SKU's available units, creating the SKU when it is new; its reserved units stay. */
export async function setAvailable(db: Sequelize, sku: string, available: number): Promise<void> {
	await db.query(
		`INSERT INTO stock (sku, available, reserved, updated_at) VALUES (:sku, :available, 0, now())
		 ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available, updated_at = now()`,
		{ replacements: { sku, available } }
	);
}

/** Fills the stock table with the catalogue if it is empty; returns how many SKUs were stocked. */
export async function stockEmptyCatalogue(db: Sequelize, catalogue: StockLevel[]): Promise<number> {
	const inserted = await db.query(
		`INSERT INTO stock (sku, available, reserved, updated_at)
		 SELECT sku, available, 0, now() FROM json_to_recordset(:rows) AS r(sku text, available integer)
		 WHERE NOT EXISTS (SELECT 1 FROM stock)
		 RETURNING sku`,
		{ type: QueryTypes.SELECT, replacements: { rows: JSON.stringify(catalogue) } }
	);
	return inserted.length;
}

/** A window of the order's history as the processor recorded it, oldest first. */
export function readProcessingHistory(db: Sequelize, orderId: string, window: HistoryWindow): Promise<HistoryEntry[]> {
	return readHistory(db, "processing_history", "processor", orderId, window);
}

/** The times of the first `limit` entries of the processor's history of one order, and its length. */
export function readProcessingHistoryTimes(db: Sequelize, orderId: string, limit: number): Promise<HistoryTimes> {
	return readHistoryTimes(db, "processing_history", orderId, limit);
}

// --- the hot path: one transaction per `order.created`, named prepared statements -------------------

/**
 * The records' inserts and the stock lock in one statement, for one order or a batch: the orders
 * whose record this inserted, and the locked stock rows of all their SKUs, in SKU order, so that
 * concurrent transactions never deadlock each other on stock.
 */
const startOrdersStatement = statement(
	"processor.start-orders",
	`WITH record AS (
	   INSERT INTO processing_records (id, order_id, event_id, status, correlation_id, created_at, updated_at)
	   SELECT r.id, r.order_id, r.event_id, $4, r.correlation_id, now(), now()
	   FROM unnest($1::uuid[], $2::uuid[], $3::text[], $5::text[]) AS r(id, order_id, event_id, correlation_id)
	   ON CONFLICT (order_id) DO NOTHING
	   RETURNING order_id
	 )
	 SELECT (SELECT array_agg(order_id::text) FROM record) AS fresh, s.sku, s.available
	 FROM (SELECT 1) AS one
	 LEFT JOIN LATERAL (SELECT sku, available FROM stock WHERE sku = ANY($6::text[]) ORDER BY sku FOR UPDATE) AS s ON true`
);

const lockRecordStatement = statement(
	"processor.lock-record",
	"SELECT status, cancelled_at FROM processing_records WHERE order_id = $1 FOR UPDATE"
);

/**
 * Everything an order's outcome writes, in one statement: the record's final status, the stock
 * moved from available to reserved with one reservation and one `reserve` movement a line (no line
 * when the order is rejected), the history steps, and the answer in the outbox. Stock rows are
 * updated by primary key; the lines are one per SKU (the plan sums an order's lines of a SKU).
 */
const finishOrderStatement = statement(
	"processor.finish-order",
	`WITH line AS (
	   SELECT sku, quantity FROM unnest($2::text[], $3::int[]) AS l(sku, quantity)
	 ), record AS (
	   UPDATE processing_records SET status = $4, error_message = $5, updated_at = clock_timestamp() WHERE order_id = $1
	 ), stock_change AS (
	   UPDATE stock SET available = stock.available - line.quantity, reserved = stock.reserved + line.quantity, updated_at = now()
	   FROM line WHERE stock.sku = line.sku
	 ), reservation AS (
	   INSERT INTO stock_reservations (order_id, sku, quantity) SELECT $1, sku, quantity FROM line
	 ), movement AS (
	   INSERT INTO stock_movements (order_id, sku, kind, quantity, event_id) SELECT $1, sku, 'reserve', quantity, $6 FROM line
	 ), history AS (
	   INSERT INTO processing_history (order_id, step, status, event_id, correlation_id, node_id, detail)
	   SELECT $1, h.step, h.status, h.event_id, $7, $8, h.detail
	   FROM ROWS FROM (jsonb_to_recordset($9::jsonb) AS (step text, status text, event_id text, detail jsonb))
	     WITH ORDINALITY AS h(step, status, event_id, detail, n)
	   ORDER BY h.n
	 )
	 INSERT INTO outbox_events (event_name, consumer_group, payload, meta, trace_context) VALUES ($10, $11, $12, $13, $14)`
);

/** A history step of the hot path (the order, correlation and node are the statement's). */
export interface OrderStep {
	step: string;
	status: string;
	eventId: string | null;
	detail?: Record<string, unknown> | null;
}

/**
 * Inserts each order's record (in flight) unless it has one, and locks the stock rows of all their
 * SKUs: the ids of the orders whose record is new, and the stock levels. A record gets its final
 * status in the same transaction, so no other transaction ever sees it in flight. Records go in in
 * order-id order, so that two transactions with the same orders never wait for each other in a circle.
 */
export async function startOrders(
	tx: SqlTransaction,
	records: Array<Omit<NewRecord, "status">>,
	skus: string[]
): Promise<{ fresh: Set<string>; stock: StockLevel[] }> {
	const sorted = [...records].sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
	const rows = await tx.query<{ fresh: string[] | null; sku: string | null; available: number | string | null }>(startOrdersStatement, [
		sorted.map(() => randomUUID()),
		sorted.map(r => r.orderId),
		sorted.map(r => r.eventId),
		ProcessingStatus.Processing,
		sorted.map(r => r.correlationId),
		[...new Set(skus)].sort()
	]);
	return {
		fresh: new Set(rows[0]?.fresh ?? []),
		stock: rows.filter(r => r.sku !== null).map(r => ({ sku: r.sku as string, available: Number(r.available) }))
	};
}

/** Locks the order's record for the rest of the transaction and returns its state, or null when it has none. */
export async function lockRecordIn(tx: SqlTransaction, orderId: string): Promise<RecordState | null> {
	const [row] = await tx.query<{ status: ProcessingStatus; cancelled_at: Date | null }>(lockRecordStatement, [orderId]);
	return row ? { status: row.status, cancellationHandled: row.cancelled_at !== null } : null;
}

/** The outcome of one order, as {@link finishOrder} writes it. */
export interface OrderOutcome {
	orderId: string;
	eventId: string;
	correlationId: string;
	nodeID: string;
	status: ProcessingStatus;
	errorMessage: string | null;
	/** The lines to reserve; none for a rejected order. */
	lines: ReservationLine[];
	steps: OrderStep[];
	/** The outbox row of the answer: event, group, payload, meta, trace context. */
	outbox: unknown[];
}

/** Writes an order's outcome in one statement (see {@link finishOrderStatement}). */
export async function finishOrder(tx: SqlTransaction, o: OrderOutcome): Promise<void> {
	const steps = o.steps.map(s => ({ step: s.step, status: s.status, event_id: s.eventId, detail: s.detail ?? null }));
	await tx.query(finishOrderStatement, [
		o.orderId,
		o.lines.map(l => l.sku),
		o.lines.map(l => l.quantity),
		o.status,
		o.errorMessage,
		o.eventId,
		o.correlationId,
		o.nodeID,
		JSON.stringify(steps),
		...o.outbox
	]);
}

/** Adds one step to the order's history, in the transaction `tx`. */
export async function appendStep(tx: SqlTransaction, entry: HistoryStepRecord): Promise<void> {
	await appendHistoryStep(tx, "processing_history", entry);
}
