/**
 * The processor as a Moleculer service: its actions and events validate, then hand over to the
 * saga (processor-saga.ts), which it builds from its mixins' database and outbox.
 */
import type { Context } from "moleculer";
import { clockOf } from "../../lib/clock";
import {
	ConsumerGroups,
	Events,
	orderCancelledSchema,
	orderCreatedSchema,
	type OrderCancelledEvent,
	type OrderCreatedEvent
} from "../../lib/contracts/events";
import { historyTimesSchema, historyWindowSchema, type HistoryEntry, type HistoryTimes, type HistoryWindowParams } from "../../lib/contracts/history";
import { getStockSchema, setStockSchema } from "../../lib/contracts/stock";
import { embeddedDataDirOf } from "../../lib/database/embedded-postgres";
import { recordProcessing, recordStockReservation } from "../../lib/metrics/business-metrics";
import { createDbMixin } from "../../mixins/db.mixin";
import { OutboxMixin } from "../../mixins/outbox.mixin";
import { withMixins } from "../../lib/broker/service-schema";
import { ProcessorSaga } from "./processor-saga";
import type { ProcessorSagaSettings } from "./processor-saga.types";
import { historyTimes, historyWindow, type HistoryTimesParams } from "./processor.history";
import { processorMigrations } from "./processor.migrations";
import { defineProcessingRecordModel, type ProcessingRecordModel } from "./processor.model";
import type { StockView } from "./processor.repository";

/** Settings of the processor besides its mixins': its saga's. */
export type ProcessorSettings = ProcessorSagaSettings;

export type { StockView };

/** The params of `processor.getStock`. */
export interface GetStockParams {
	sku: string;
}

/** The params of `processor.setStock`. */
export interface SetStockParams {
	sku: string;
	available: number;
}

/** What the processor keeps on its instance, besides what its mixins keep. */
export interface ProcessorVars {
	/** The main model, typed (the database mixin knows only that it is a model). */
	model: ProcessingRecordModel;
	/** The processor's side of the order saga; the handlers below only adapt to it. */
	saga: ProcessorSaga;
}

// The database comes last: Moleculer starts the last mixin first and stops it last.
const ProcessorService = withMixins(
	OutboxMixin,
	createDbMixin({
		migrations: processorMigrations,
		defineModels: defineProcessingRecordModel,
		embeddedDataDir: embeddedDataDirOf("processor")
	})
)<ProcessorSettings, ProcessorVars>({
	name: "processor",

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/** Returns one SKU's stock. */
		getStock: {
			params: getStockSchema,
			handler(ctx: Context<GetStockParams>): Promise<StockView> {
				return this.saga.readStock(ctx.params.sku);
			}
		},

		/** Sets one SKU's available units (creating the SKU when it is new). */
		setStock: {
			params: setStockSchema,
			handler(ctx: Context<SetStockParams>): Promise<StockView> {
				return this.saga.setStock(ctx.params.sku, ctx.params.available);
			}
		},

		/** A window of the order's history as the processor recorded it, oldest first: its first entries without one. */
		history: {
			params: historyWindowSchema,
			handler(ctx: Context<HistoryWindowParams>): Promise<HistoryEntry[]> {
				return historyWindow(this.db(), ctx.params);
			}
		},

		/** The times of the first `limit` entries of the order's history here, and how many it has. */
		historyTimes: {
			params: historyTimesSchema,
			handler(ctx: Context<HistoryTimesParams>): Promise<HistoryTimes> {
				return historyTimes(this.db(), ctx.params);
			}
		},

		/** Answers when the processor database answers. */
		health: {
			async handler(): Promise<{ status: "ok" }> {
				await this.pingDatabase();
				return { status: "ok" };
			}
		}
	},

	// --- events ----------------------------------------------------------------------------------
	events: {
		/** A new order: reserve its stock once, record the outcome, answer with `order.processed`. */
		[Events.OrderCreated]: {
			group: ConsumerGroups[Events.OrderCreated],
			params: orderCreatedSchema,
			handler(ctx: Context<OrderCreatedEvent>): Promise<void> {
				return this.saga.processOrder(ctx.params);
			}
		},

		/** A cancelled or expired order: release what was reserved (once), answer with `order.compensated`. */
		[Events.OrderCancelled]: {
			group: ConsumerGroups[Events.OrderCancelled],
			params: orderCancelledSchema,
			handler(ctx: Context<OrderCancelledEvent>): Promise<void> {
				return this.saga.compensateOrder(ctx.params);
			}
		}
	},

	// --- lifecycle -------------------------------------------------------------------------------
	/** Builds the saga from this service's database, outbox, clock, metrics and logger. */
	created() {
		this.saga = new ProcessorSaga({
			// The adapter connects in `started`, after this: the saga asks for the database each time.
			db: () => this.db(),
			outbox: {
				enqueue: (t, eventName, group, payload, meta) => this.enqueueEvent(t, eventName, group, payload, meta),
				wake: () => this.wakeOutboxRelay()
			},
			clock: clockOf(this.broker),
			metrics: {
				processing: (outcome, seconds) => recordProcessing(this.broker, outcome, seconds),
				stockReservation: outcome => recordStockReservation(this.broker, outcome)
			},
			logger: this.logger,
			nodeID: this.broker.nodeID,
			settings: this.settings
		});
	},

	/** moleculer-db calls this once the database is connected and migrated, before any event is taken. */
	async afterConnected() {
		await this.saga.start();
	},

	/**
	 * Lets the batches under way commit. Moleculer runs the mixins' `stopped` after this one: the
	 * outbox flushes what they wrote, then the database closes.
	 */
	async stopped() {
		await this.saga.stop();
	}
});

export default ProcessorService;
