/**
 * An order's history, one page at a time: the orders service's entries merged with the
 * processor's, oldest first. To cut a page out of the merged history without reading either
 * history whole, orders first reads the times of each service's entries up to the end of the page
 * (`historyTimes`), merges those (orders.domain.ts), then reads from each service only the entries
 * that fall on the page.
 *
 * Requires the database mixin and the orders service's `findOrder`.
 */
import type { Context, ServiceSettingSchema } from "moleculer";
import {
	DEFAULT_HISTORY_PAGE_SIZE,
	MAX_HISTORY_DEPTH,
	MAX_HISTORY_PAGE_SIZE,
	orderHistorySchema,
	type HistoryEntry,
	type HistoryTimes,
	type HistoryWindowParams,
	type OrderHistory,
	type OrderHistoryParams
} from "../../lib/contracts/history";
import type { AnyServiceSchema, PartialSettingsSchema } from "../../lib/broker/service-schema";
import type { DbMethods, DbVars } from "../../mixins/db.mixin";
import type { Caller } from "../../lib/auth/caller";
import { pageInfo } from "../../lib/contracts/orders";
import { callerOf } from "./orders.access";
import { historyPageParts, interleave, pageWindow } from "./orders.domain";
import { PageParameterError } from "./orders.errors";
import type { OrderModel, OrderRow } from "./orders.model";
import { loadHistory, loadHistoryTimes } from "./orders.repository";
import type { OrdersMeta } from "./orders.types";

/** How long `orders.history` waits for each answer of the processor. */
const PROCESSOR_HISTORY_TIMEOUT_MS = 3000;

/** The methods of the history mixin. */
export interface OrdersHistoryMethods {
	/** One page of an order's history, both services merged when the processor answers. */
	orderHistory(ctx: Context<OrderHistoryParams, OrdersMeta>): Promise<OrderHistory>;
	/** The processor's answer to a history action, or undefined (logged) when it gave none. */
	askProcessorHistory<T>(ctx: Context<unknown, OrdersMeta>, action: "historyTimes" | "history", params: object, valid: (answer: unknown) => boolean): Promise<T | undefined>;
}

/** What the history needs of the service it is mixed into. */
interface HostMethods extends DbMethods {
	findOrder(id: string, caller: Caller | null): Promise<OrderRow>;
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

type OrdersHistorySchema = PartialSettingsSchema<ServiceSettingSchema, OrdersHistoryMethods & HostMethods, DbVars<OrderModel>>;

const ordersHistorySchema: OrdersHistorySchema = {
	name: "orders-history",

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/**
		 * Returns one page of an order's history in both services (`page`, `pageSize`: 100 by
		 * default, 500 at most); `complete: false` when the processor could not be asked. A customer
		 * reads its own orders' only (another's is answered as unknown).
		 */
		history: {
			params: orderHistorySchema,
			async handler(ctx: Context<OrderHistoryParams, OrdersMeta>): Promise<OrderHistory> {
				return this.orderHistory(ctx);
			}
		}
	},

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		async orderHistory(ctx: Context<OrderHistoryParams, OrdersMeta>): Promise<OrderHistory> {
			const order = await this.findOrder(ctx.params.id, callerOf(ctx.meta));
			const { page, pageSize, offset } = requestedPage(ctx.params);
			const answer = (entries: HistoryEntry[], total: number, complete: boolean): OrderHistory => ({
				orderId: order.id,
				entries,
				complete,
				...pageInfo(total, page, pageSize)
			});

			const depth = offset + pageSize;
			const own = await loadHistoryTimes(this.db(), order.id, depth);
			const other = await this.askProcessorHistory<HistoryTimes>(ctx, "historyTimes", { orderId: order.id, limit: depth }, isTimes);
			if (other) {
				const parts = historyPageParts(own.times, other.times, offset, pageSize);
				const window: HistoryWindowParams = { orderId: order.id, ...parts.other };
				const otherEntries = parts.other.limit === 0 ? [] : await this.askProcessorHistory<HistoryEntry[]>(ctx, "history", window, Array.isArray);
				if (otherEntries) {
					const ownEntries = parts.own.limit === 0 ? [] : await loadHistory(this.db(), order.id, parts.own);
					return answer(interleave(parts.sources, ownEntries, otherEntries), own.total + other.total, true);
				}
			}
			return answer(await loadHistory(this.db(), order.id, { offset, limit: pageSize }), own.total, false);
		},

		async askProcessorHistory<T>(ctx: Context<unknown, OrdersMeta>, action: "historyTimes" | "history", params: object, valid: (answer: unknown) => boolean): Promise<T | undefined> {
			try {
				const answer = await ctx.call<T, object>(`processor.${action}`, params, { timeout: PROCESSOR_HISTORY_TIMEOUT_MS, retries: 0 });
				if (!valid(answer)) throw new Error(`'processor.${action}' answered something else than it should`);
				return answer;
			} catch (err) {
				this.logger.warn("The processor's part of the history could not be read; answering with the orders part.", {
					orderId: (params as { orderId?: string }).orderId,
					error: (err as Error).message
				});
				return undefined;
			}
		}
	}
};

/** The history part of the orders service ({@link ordersHistorySchema}), for its `mixins`. */
export const OrdersHistoryMixin: Partial<AnyServiceSchema> = ordersHistorySchema;
