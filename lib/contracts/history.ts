/**
 * An order's history: every transition and every handled event of both services, as
 * `GET /api/orders/:id/history` shows it, one page at a time. Each service records its own
 * entries; orders merges them.
 */
import { positiveIntegerParam } from "./numbers";
import type { PageInfo } from "./orders";

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

/** One page of an order's history, with the paging fields of `GET /api/orders` (`OrderPage`). */
export interface OrderHistory extends PageInfo {
	orderId: string;
	/** Entries of both services, oldest first: positions `(page - 1) * pageSize` on of the merged history. */
	entries: HistoryEntry[];
	/** False when the processor could not be asked: the entries, and `total`, are the orders part only. */
	complete: boolean;
	/** Entries of the whole history (both services, or the orders part when not complete). */
	total: number;
}

/** Entries a history page has unless `pageSize` says otherwise. */
export const DEFAULT_HISTORY_PAGE_SIZE = 100;
/** Most entries one history page may have. */
export const MAX_HISTORY_PAGE_SIZE = 500;
/**
 * How deep into a history a page may reach (`page × pageSize`). To merge both services' entries in
 * time order, orders reads the times of every entry before the page (8 bytes each), never their
 * rows: this bound keeps that read small however long a history grew.
 */
export const MAX_HISTORY_DEPTH = 100_000;

export interface OrderHistoryParams {
	id: string;
	page?: number | string;
	pageSize?: number | string;
}

/** `orders.history`: the order, and which page of its history. */
export const orderHistorySchema = {
	type: "object",
	additionalProperties: false,
	required: ["id"],
	properties: {
		id: { type: "string", minLength: 1, maxLength: 100 },
		// page × pageSize may reach MAX_HISTORY_DEPTH at most: a bound across both, which orders checks.
		page: positiveIntegerParam(MAX_HISTORY_DEPTH, `Which page, from 1; \`page × pageSize\` may be ${MAX_HISTORY_DEPTH} at most.`),
		pageSize: positiveIntegerParam(MAX_HISTORY_PAGE_SIZE, `Entries a page holds: ${DEFAULT_HISTORY_PAGE_SIZE} unless given, ${MAX_HISTORY_PAGE_SIZE} at most.`)
	}
} as const;

/** A window of one service's history of an order: `limit` entries from position `offset`, in recorded order. */
export interface HistoryWindowParams {
	orderId: string;
	offset?: number;
	limit?: number;
}

/** `processor.history`: a window of the processor's history of an order (the first page without one). */
export const historyWindowSchema = {
	type: "object",
	additionalProperties: false,
	required: ["orderId"],
	properties: {
		orderId: { type: "string", format: "uuid" },
		offset: { type: "integer", minimum: 0, maximum: MAX_HISTORY_DEPTH },
		limit: { type: "integer", minimum: 1, maximum: MAX_HISTORY_PAGE_SIZE }
	}
} as const;

/** The times of the first `limit` entries of one service's history of an order, and how many it has. */
export interface HistoryTimes {
	/** Milliseconds since the epoch, in recorded order. */
	times: number[];
	total: number;
}

/** `processor.historyTimes`: the times of up to `limit` entries. */
export const historyTimesSchema = {
	type: "object",
	additionalProperties: false,
	required: ["orderId", "limit"],
	properties: {
		orderId: { type: "string", format: "uuid" },
		limit: { type: "integer", minimum: 1, maximum: MAX_HISTORY_DEPTH }
	}
} as const;
