/**
 * The processor's data access: processing records, stock with its reservations and ledger, and the
 * history of each order. Plain SQL on the service's Sequelize instance, plain objects back; every
 * function that changes something runs in the caller's transaction.
 */
import { randomUUID } from "node:crypto";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { ReleasedLine } from "../../lib/contracts/events";
import type { HistoryEntry } from "../../lib/contracts/history";
import { appendHistory, readHistory, type HistoryStep } from "../../lib/database/history-table";
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
 * deliveries); true when this call inserted it. A `CANCELLED` record is a tombstone: it is
 * inserted with its cancellation already handled.
 */
export async function insertRecord(db: Sequelize, record: NewRecord, t?: Transaction): Promise<boolean> {
	const now = new Date();
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

/** Moves the record from one status to the next, only if it is still in the first (a guard, not a lock). */
export async function advanceRecord(db: Sequelize, orderId: string, from: ProcessingStatus, next: ProcessingStatus): Promise<void> {
	await db.query(
		"UPDATE processing_records SET status = :next, updated_at = now() WHERE order_id = :orderId AND status = :from",
		{ replacements: { orderId, from, next } }
	);
}

/** Locks the order's record for the rest of the transaction and returns its state, or null when it has none. */
export async function lockRecord(db: Sequelize, t: Transaction, orderId: string): Promise<RecordState | null> {
	const [row] = await db.query<{ status: ProcessingStatus; cancelled_at: Date | null }>(
		"SELECT status, cancelled_at FROM processing_records WHERE order_id = :orderId FOR UPDATE",
		{ type: QueryTypes.SELECT, transaction: t, replacements: { orderId } }
	);
	return row ? { status: row.status, cancellationHandled: row.cancelled_at !== null } : null;
}

/** Sets the record's processing outcome. */
export async function finishRecord(
	db: Sequelize,
	t: Transaction,
	orderId: string,
	status: ProcessingStatus,
	errorMessage: string | null
): Promise<void> {
	await db.query(
		"UPDATE processing_records SET status = :status, error_message = :errorMessage, updated_at = now() WHERE order_id = :orderId",
		{ transaction: t, replacements: { orderId, status, errorMessage } }
	);
}

/** Records that the order's cancellation was handled, and the status it left the record in. */
export async function markCancelled(db: Sequelize, t: Transaction, orderId: string, status: ProcessingStatus): Promise<void> {
	await db.query(
		"UPDATE processing_records SET status = :status, cancelled_at = now(), updated_at = now() WHERE order_id = :orderId",
		{ transaction: t, replacements: { orderId, status } }
	);
}

/** Locks the stock rows of these SKUs, in SKU order, so that concurrent orders never deadlock each other. */
export async function lockStock(db: Sequelize, t: Transaction, skus: string[]): Promise<StockLevel[]> {
	return db.query<StockLevel>("SELECT sku, available FROM stock WHERE sku IN (:skus) ORDER BY sku FOR UPDATE", {
		type: QueryTypes.SELECT,
		transaction: t,
		replacements: { skus: [...new Set(skus)].sort() }
	});
}

/** Moves units from available to reserved, one reservation row and one `reserve` movement a line. */
export async function reserveStock(db: Sequelize, t: Transaction, orderId: string, eventId: string, lines: ReservationLine[]): Promise<void> {
	for (const line of lines) {
		await db.query(
			`UPDATE stock SET available = available - :quantity, reserved = reserved + :quantity, updated_at = now()
			 WHERE sku = :sku`,
			{ transaction: t, replacements: { ...line } }
		);
		await db.query("INSERT INTO stock_reservations (order_id, sku, quantity) VALUES (:orderId, :sku, :quantity)", {
			transaction: t,
			replacements: { orderId, ...line }
		});
		await db.query(
			"INSERT INTO stock_movements (order_id, sku, kind, quantity, event_id) VALUES (:orderId, :sku, 'reserve', :quantity, :eventId)",
			{ transaction: t, replacements: { orderId, eventId, ...line } }
		);
	}
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

/** Adds one step to the order's history, in the transaction of the change it describes. */
export function recordHistory(db: Sequelize, t: Transaction, entry: HistoryStepRecord): Promise<void> {
	return appendHistory(db, t, "processing_history", [entry]);
}

/** The order's history as the processor recorded it, oldest first. */
export function readProcessingHistory(db: Sequelize, orderId: string): Promise<HistoryEntry[]> {
	return readHistory(db, "processing_history", "processor", orderId);
}
