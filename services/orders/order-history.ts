/**
 * An order's history, one page at a time: the orders service's entries merged with the
 * processor's, oldest first. To cut a page out of the merged history without reading either
 * history whole, orders first reads the times of each service's entries up to the end of the page
 * (`historyTimes`), merges those (orders.domain.ts), then reads from each service only the entries
 * that fall on the page.
 */
import type { Logger } from "moleculer";
import type { Sequelize } from "sequelize";
import {
	DEFAULT_HISTORY_PAGE_SIZE,
	MAX_HISTORY_DEPTH,
	MAX_HISTORY_PAGE_SIZE,
	type HistoryEntry,
	type HistoryTimes,
	type HistoryWindowParams,
	type OrderHistory,
	type OrderHistoryParams
} from "../../lib/contracts/history";
import { pageInfo } from "../../lib/contracts/orders";
import { historyPageParts, interleave, pageWindow } from "./orders.domain";
import { PageParameterError } from "./orders.errors";
import type { OrderRow } from "./orders.model";
import { loadHistory, loadHistoryTimes } from "./orders.repository";

/** How long the history waits for each answer of the processor. */
export const PROCESSOR_HISTORY_TIMEOUT_MS = 3000;

/** The processor's history actions, as the history asks them. */
export type ProcessorHistoryAction = "historyTimes" | "history";

/** What the history needs: the orders database, a way to call the processor, and a logger. */
export interface OrderHistoryDeps {
	db: Sequelize;
	/** Calls `processor.<action>` (within {@link PROCESSOR_HISTORY_TIMEOUT_MS}, never retried). */
	callProcessor(action: ProcessorHistoryAction, params: object): Promise<unknown>;
	logger: Logger;
}

/** The page a request asks for: a 400 naming `page` when the page reaches deeper than a history page may. */
function requestedPage(params: OrderHistoryParams) {
	const window = pageWindow(params.page, params.pageSize, MAX_HISTORY_PAGE_SIZE, DEFAULT_HISTORY_PAGE_SIZE);
	if (window.offset + window.pageSize > MAX_HISTORY_DEPTH) {
		throw new PageParameterError("page", `must be <= ${Math.floor(MAX_HISTORY_DEPTH / window.pageSize)} for a pageSize of ${window.pageSize}: a page may reach ${MAX_HISTORY_DEPTH} entries deep at most`);
	}
	return window;
}

const isTimes = (answer: unknown) => Array.isArray((answer as HistoryTimes)?.times) && typeof (answer as HistoryTimes).total === "number";

/** The processor's answer to a history action, or undefined (logged) when it gave none. */
async function askProcessor<T>(deps: OrderHistoryDeps, action: ProcessorHistoryAction, params: HistoryWindowParams | { orderId: string; limit: number }, valid: (answer: unknown) => boolean): Promise<T | undefined> {
	try {
		const answer = await deps.callProcessor(action, params);
		if (!valid(answer)) throw new Error(`'processor.${action}' answered something else than it should`);
		return answer as T;
	} catch (err) {
		deps.logger.warn("The processor's part of the history could not be read; answering with the orders part.", {
			orderId: params.orderId,
			error: (err as Error).message
		});
		return undefined;
	}
}

/** One page of the history of `order` (one the caller may see), both services merged when the processor answers. */
export async function orderHistory(deps: OrderHistoryDeps, order: OrderRow, params: OrderHistoryParams): Promise<OrderHistory> {
	const { page, pageSize, offset } = requestedPage(params);
	const answer = (entries: HistoryEntry[], total: number, complete: boolean): OrderHistory => ({
		orderId: order.id,
		entries,
		complete,
		...pageInfo(total, page, pageSize)
	});

	const depth = offset + pageSize;
	const own = await loadHistoryTimes(deps.db, order.id, depth);
	const other = await askProcessor<HistoryTimes>(deps, "historyTimes", { orderId: order.id, limit: depth }, isTimes);
	if (other) {
		const parts = historyPageParts(own.times, other.times, offset, pageSize);
		const window: HistoryWindowParams = { orderId: order.id, ...parts.other };
		const otherEntries = parts.other.limit === 0 ? [] : await askProcessor<HistoryEntry[]>(deps, "history", window, Array.isArray);
		if (otherEntries) {
			const ownEntries = parts.own.limit === 0 ? [] : await loadHistory(deps.db, order.id, parts.own);
			return answer(interleave(parts.sources, ownEntries, otherEntries), own.total + other.total, true);
		}
	}
	return answer(await loadHistory(deps.db, order.id, { offset, limit: pageSize }), own.total, false);
}
