/**
 * An order's history: every transition and every handled event of both services, as
 * `GET /api/orders/:id/history` shows it. Each service records its own entries; orders merges them.
 */

/** One step of an order, in one service. */
export interface HistoryEntry {
	/** ISO 8601 time the step was recorded. */
	at: string;
	service: "orders" | "processor";
	/** What happened, e.g. `created`, `order.processed received`, `stock reserved`, `cancel requested`. */
	step: string;
	/** The order's (orders) or the processing record's (processor) status after the step. */
	status: string;
	/** The event that caused or was sent by the step, when there was one. */
	eventId: string | null;
	correlationId: string | null;
	/** The Moleculer node that recorded the step. */
	nodeID: string;
	/** Anything else worth showing: a reason, the released lines, an error message. */
	detail: Record<string, unknown> | null;
}

export interface OrderHistory {
	orderId: string;
	/** Entries of both services, oldest first. */
	entries: HistoryEntry[];
	/** False when the processor could not be asked: the entries are the orders part only. */
	complete: boolean;
}
