/**
 * The orders service: a thin Moleculer adapter of the orders saga (order-saga.ts). Its actions and
 * event handlers validate their parameters, call the saga (or the reads and the history), and
 * return; its lifecycle builds the saga from explicit dependencies and runs its timers while the
 * database is up. The database and the outbox are the cross-cutting mixins.
 */
import type { Context, ServiceSchema } from "moleculer";
import { clockOf } from "../../lib/clock";
import { withMixins } from "../../lib/broker/service-schema";
import { ConsumerGroups, Events, orderCompensatedSchema, orderProcessedSchema, type OrderCompensatedEvent, type OrderProcessedEvent } from "../../lib/contracts/events";
import { orderHistorySchema, type OrderHistory, type OrderHistoryParams } from "../../lib/contracts/history";
import {
	cancelOrderSchema,
	createOrderSchema,
	listOrdersSchema,
	orderIdSchema,
	type CancelOrderParams,
	type CreateOrderParams,
	type ListOrdersParams,
	type OrderPage,
	type OrderView
} from "../../lib/contracts/orders";
import { embeddedDataDirOf } from "../../lib/database/embedded-postgres";
import { createDbMixin } from "../../mixins/db.mixin";
import { OutboxMixin } from "../../mixins/outbox.mixin";
import { callerOf } from "./orders.access";
import { DEFAULT_CREATE_CONCURRENCY, DEFAULT_CREATE_QUEUE_SIZE } from "./orders.defaults";
import { ordersMigrations } from "./orders.migrations";
import { defineOrderModel, toOrderView, type OrderModel } from "./orders.model";
import { PROCESSOR_HISTORY_TIMEOUT_MS, orderHistory } from "./order-history";
import { findOrder, listOrders } from "./order-reads";
import { OrderSaga } from "./order-saga";
import { orderMetricsOf, type OrderSagaSettings } from "./order-saga.types";
import { startSagaTimers, type SagaTimers } from "./order-timers";
import type { OrdersMeta } from "./orders.types";

export type { CreatedOrder, OrdersMeta } from "./orders.types";

/** Settings of the orders service besides its mixins': its saga's, and its creates' bulkhead. */
export interface OrdersSettings extends OrderSagaSettings {
	/** Creates written at once (CREATE_CONCURRENCY); the others wait their turn, first come first served. */
	createConcurrency: number;
	/** Creates that may wait for their turn (CREATE_QUEUE_SIZE); past it a create is refused, 503. */
	createQueueSize: number;
}

/** What the orders service keeps on its instance, besides what its mixins keep. */
interface OrdersVars {
	/** The main model, typed (the database mixin knows only that it is a model). */
	model: OrderModel;
	saga: OrderSaga;
	/** The saga's sweeper and pruners, while the database is up. */
	sagaTimers?: SagaTimers;
}

// The database comes last: Moleculer starts the last mixin first and stops it last, so the
// database is up before the relay starts, and still up when the relay flushes at shutdown.
const OrdersService = withMixins(
	OutboxMixin,
	createDbMixin({ migrations: ordersMigrations, defineModels: defineOrderModel, embeddedDataDir: embeddedDataDirOf("orders") })
)<OrdersSettings, OrdersVars>({
	name: "orders",

	settings: {
		createConcurrency: DEFAULT_CREATE_CONCURRENCY,
		createQueueSize: DEFAULT_CREATE_QUEUE_SIZE
	},

	/**
	 * Creates go through Moleculer's bulkhead: at most `createConcurrency` at once, fewer than the
	 * pool's connections. Without it a flood of creates takes every connection and the relay and the
	 * answers queue behind it: orders pile up unsent while more are accepted. With it the orders
	 * already taken move on first, and a create waits for its turn instead (or, past
	 * `createQueueSize` waiting, is refused with a 503 the client may retry).
	 */
	merged(schema: ServiceSchema) {
		const settings = schema.settings as OrdersSettings;
		const actions = schema.actions as Record<string, object>;
		// A copy: the action's definition may be shared by every service made from this schema.
		actions.create = { ...actions.create, bulkhead: { enabled: true, concurrency: settings.createConcurrency, maxQueueSize: settings.createQueueSize } };
	},

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/** Stores a new `pending` order and queues its `order.created` event in the same transaction. */
		create: {
			params: createOrderSchema,
			async handler(ctx: Context<CreateOrderParams, OrdersMeta>): Promise<OrderView> {
				const { order, replayed } = await this.saga.create(ctx.params, ctx.meta);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/orders/${order.id}`;
				if (replayed) ctx.meta.$responseHeaders = { "Idempotent-Replayed": "true" };
				return order;
			}
		},

		/**
		 * Cancels an order: a pending one at once, a completed one once the processor released its
		 * stock (`cancelling` meanwhile). A repeated cancel is answered as the first; a failed or
		 * expired order cannot be cancelled (409). A customer cancels its own orders only: another's
		 * is answered as unknown (404), and left as it is.
		 */
		cancel: {
			params: cancelOrderSchema,
			async handler(ctx: Context<CancelOrderParams, OrdersMeta>): Promise<OrderView> {
				return this.saga.cancel(ctx.params, ctx.meta);
			}
		},

		/** Returns one order by id; a customer's own only (another's is answered as unknown). */
		get: {
			params: orderIdSchema,
			async handler(ctx: Context<{ id: string }, OrdersMeta>): Promise<OrderView> {
				return toOrderView(await findOrder(this.model, ctx.params.id, callerOf(ctx.meta)));
			}
		},

		/** Returns a page of orders, newest first, with the total count of the filter; a customer's own only. */
		list: {
			params: listOrdersSchema,
			async handler(ctx: Context<ListOrdersParams, OrdersMeta>): Promise<OrderPage> {
				return listOrders(this.model, ctx.params, callerOf(ctx.meta));
			}
		},

		/**
		 * Returns one page of an order's history in both services (`page`, `pageSize`: 100 by
		 * default, 500 at most); `complete: false` when the processor could not be asked. A customer
		 * reads its own orders' only (another's is answered as unknown).
		 */
		history: {
			params: orderHistorySchema,
			async handler(ctx: Context<OrderHistoryParams, OrdersMeta>): Promise<OrderHistory> {
				const order = await findOrder(this.model, ctx.params.id, callerOf(ctx.meta));
				const callProcessor = (action: string, params: object) => ctx.call(`processor.${action}`, params, { timeout: PROCESSOR_HISTORY_TIMEOUT_MS, retries: 0 });
				return orderHistory({ db: this.db(), callProcessor, logger: this.logger }, order, ctx.params);
			}
		},

		/** Answers when the orders database answers. */
		health: {
			async handler(): Promise<{ status: "ok" }> {
				await this.pingDatabase();
				return { status: "ok" };
			}
		}
	},

	// --- events ----------------------------------------------------------------------------------
	events: {
		/** The processor's answer: moves a pending order to `completed` or `failed`. */
		[Events.OrderProcessed]: {
			group: ConsumerGroups[Events.OrderProcessed],
			params: orderProcessedSchema,
			async handler(ctx: Context<OrderProcessedEvent>): Promise<void> {
				await this.saga.onProcessed(ctx.params);
			}
		},

		/** The processor released what it held for a cancelled order: a cancelling order ends cancelled. */
		[Events.OrderCompensated]: {
			group: ConsumerGroups[Events.OrderCompensated],
			params: orderCompensatedSchema,
			async handler(ctx: Context<OrderCompensatedEvent>): Promise<void> {
				await this.saga.onCompensated(ctx.params);
			}
		}
	},

	// --- lifecycle -------------------------------------------------------------------------------
	/** Builds the saga from its dependencies; the database is a function, as it connects later. */
	created() {
		this.saga = new OrderSaga({
			db: () => this.db(),
			model: () => this.model,
			ready: () => this.adapter?.ready === true,
			outbox: { enqueue: (t, ...event) => this.enqueueEvent(t, ...event), wake: () => this.wakeOutboxRelay() },
			clock: clockOf(this.broker),
			metrics: orderMetricsOf(this.broker),
			logger: this.logger,
			nodeID: this.broker.nodeID,
			settings: this.settings
		});
	},

	/** Starts the saga's sweeper and pruners: moleculer-db calls this once the database is connected and migrated. */
	afterConnected() {
		this.sagaTimers = startSagaTimers(this.saga, { clock: clockOf(this.broker), ready: () => this.adapter?.ready === true, logger: this.logger, settings: this.settings });
	},

	/**
	 * Stops the saga's timers and waits for the sweep under way. Moleculer runs a schema's own
	 * `stopped` before its mixins' (in reverse order of `mixins`), so this happens before the outbox
	 * flushes and before the database closes.
	 */
	async stopped() {
		await this.sagaTimers?.stop();
	}
});

export default OrdersService;
