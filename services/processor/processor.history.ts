/**
 * The processor's part of an order's history, which `orders.history` merges with its own: a window
 * of the entries, and the times of the first ones (what orders needs to place each entry on a page
 * without reading the whole history). Requires the database mixin.
 */
import type { Context, ServiceSettingSchema } from "moleculer";
import {
	MAX_HISTORY_PAGE_SIZE,
	historyTimesSchema,
	historyWindowSchema,
	type HistoryEntry,
	type HistoryTimes,
	type HistoryWindowParams
} from "../../lib/contracts/history";
import type { AnyServiceSchema, PartialSettingsSchema } from "../../lib/broker/service-schema";
import type { DbMethods, DbVars } from "../../mixins/db.mixin";
import { readProcessingHistory, readProcessingHistoryTimes } from "./processor.repository";

const processorHistorySchema: PartialSettingsSchema<ServiceSettingSchema, DbMethods, DbVars> = {
	name: "processor-history",

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/** A window of the order's history as the processor recorded it, oldest first: its first entries without one. */
		history: {
			params: historyWindowSchema,
			async handler(ctx: Context<HistoryWindowParams>): Promise<HistoryEntry[]> {
				const { orderId, offset = 0, limit = MAX_HISTORY_PAGE_SIZE } = ctx.params;
				return readProcessingHistory(this.db(), orderId, { offset, limit });
			}
		},

		/** The times of the first `limit` entries of the order's history here, and how many it has. */
		historyTimes: {
			params: historyTimesSchema,
			async handler(ctx: Context<{ orderId: string; limit: number }>): Promise<HistoryTimes> {
				return readProcessingHistoryTimes(this.db(), ctx.params.orderId, ctx.params.limit);
			}
		}
	}
};

/** The history part of the processor ({@link processorHistorySchema}), for its `mixins`. */
export const ProcessorHistoryMixin: Partial<AnyServiceSchema> = processorHistorySchema;
