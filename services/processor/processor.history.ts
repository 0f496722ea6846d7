/**
 * The processor's part of an order's history, which `orders.history` merges with its own: a window
 * of the entries, and the times of the first ones (what orders needs to place each entry on a page
 * without reading the whole history).
 */
import type { Sequelize } from "sequelize";
import { MAX_HISTORY_PAGE_SIZE, type HistoryEntry, type HistoryTimes, type HistoryWindowParams } from "../../lib/contracts/history";
import { readProcessingHistory, readProcessingHistoryTimes } from "./processor.repository";

/** The params of `processor.historyTimes`. */
export interface HistoryTimesParams {
	orderId: string;
	limit: number;
}

/** A window of the order's history as the processor recorded it, oldest first: its first entries without one. */
export function historyWindow(db: Sequelize, params: HistoryWindowParams): Promise<HistoryEntry[]> {
	const { orderId, offset = 0, limit = MAX_HISTORY_PAGE_SIZE } = params;
	return readProcessingHistory(db, orderId, { offset, limit });
}

/** The times of the first `limit` entries of the order's history here, and how many it has. */
export function historyTimes(db: Sequelize, params: HistoryTimesParams): Promise<HistoryTimes> {
	return readProcessingHistoryTimes(db, params.orderId, params.limit);
}
