/**
 * The processor's rules, free of broker and database: how a processing record moves, and whether
 * the stock can serve an order.
 */
import { EVENT_SCHEMA_VERSION, type OrderItem, type OrderProcessedEvent } from "../../lib/contracts/events";

export enum ProcessingStatus {
	Pending = "PENDING",
	Processing = "PROCESSING",
	Completed = "COMPLETED",
	Failed = "FAILED"
}

const NEXT: Record<ProcessingStatus, ProcessingStatus[]> = {
	[ProcessingStatus.Pending]: [ProcessingStatus.Processing],
	[ProcessingStatus.Processing]: [ProcessingStatus.Completed, ProcessingStatus.Failed],
	[ProcessingStatus.Completed]: [],
	[ProcessingStatus.Failed]: []
};

/** True when a record may move from one status to the other (`PENDING → PROCESSING → COMPLETED | FAILED`). */
export function canAdvance(from: ProcessingStatus, to: ProcessingStatus): boolean {
	return NEXT[from].includes(to);
}

/** True once a record has its outcome; a terminal record is never processed again. */
export function isTerminal(status: ProcessingStatus): boolean {
	return NEXT[status].length === 0;
}

export interface StockLevel {
	sku: string;
	available: number;
}

export interface ReservationLine {
	sku: string;
	quantity: number;
}

export type ReservationPlan =
	| { ok: true; lines: ReservationLine[] }
	| { ok: false; reason: string };

/**
 * Decides whether the stock can serve the items: every SKU must exist and have enough units
 * available (lines of the same SKU count together). Not serving is a business answer, not an error.
 */
export function planReservation(items: OrderItem[], stock: StockLevel[]): ReservationPlan {
	const wanted = new Map<string, number>();
	for (const item of items) wanted.set(item.sku, (wanted.get(item.sku) ?? 0) + item.quantity);
	const levels = new Map(stock.map(s => [s.sku, s.available]));

	const lines: ReservationLine[] = [];
	for (const [sku, quantity] of [...wanted.entries()].sort(([a], [b]) => a.localeCompare(b))) {
		const available = levels.get(sku);
		if (available === undefined) return { ok: false, reason: `Unknown SKU '${sku}'.` };
		if (available < quantity) {
			return {
				ok: false,
				reason: `Insufficient stock for SKU '${sku}': requested ${quantity}, available ${available}.`
			};
		}
		lines.push({ sku, quantity });
	}
	return { ok: true, lines };
}

/** The `order.processed` answer for a finished record. */
export function orderProcessedEvent(
	orderId: string,
	correlationId: string,
	outcome: ReservationPlan,
	eventId: string,
	now: Date
): OrderProcessedEvent {
	return {
		eventId,
		version: EVENT_SCHEMA_VERSION,
		orderId,
		correlationId,
		status: outcome.ok ? "completed" : "failed",
		...(outcome.ok ? {} : { errorMessage: outcome.reason }),
		occurredAt: now.toISOString()
	};
}

/** The demo catalogue a fresh database holds: SKU-0001 … SKU-0100, one million units each. */
export function demoCatalogue(count = 100, units = 1_000_000): StockLevel[] {
	return Array.from({ length: count }, (_, i) => ({ sku: `SKU-${String(i + 1).padStart(4, "0")}`, available: units }));
}
