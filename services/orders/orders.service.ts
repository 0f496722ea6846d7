import { randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { QueryTypes, type Transaction, type WhereOptions } from "sequelize";
import { ConsumerGroups, Events } from "../../lib/contracts/events";
import {
	MAX_PAGE_SIZE,
	OrderStatus,
	createOrderSchema,
	listOrdersSchema,
	orderIdSchema,
	pageInfo,
	type CreateOrderParams,
	type ListOrdersParams,
	type OrderPage,
	type OrderView
} from "../../lib/contracts/orders";
import { createDbMixin, type DbMethods, type DbSettings, type DbVars } from "../../mixins/db.mixin";
import { sqlOf } from "../../lib/database/sql";
import { embeddedDataDirOf } from "../../lib/database/embedded-postgres";
import { OutboxMixin, outboxRowValues, type OutboxMethods, type OutboxSettings, type OutboxVars } from "../../mixins/outbox.mixin";
import type { Caller } from "../../lib/auth/caller";
import { callerOf, customerFilterOfList, customerOfNewOrder, idempotencyScope, visibleTo } from "./orders.access";
import {
	HistorySteps,
	computeTotal,
	isOrderId,
	orderCreatedEvent,
	pageWindow,
	requestFingerprint,
	type NewOrder,
	type OrderRequest
} from "./orders.domain";
import { DEFAULT_CREATE_CONCURRENCY, DEFAULT_CREATE_QUEUE_SIZE } from "./orders.defaults";
import { OrderNotFoundError } from "./orders.errors";
import { ordersMigrations } from "./orders.migrations";
import { defineOrderModel, toOrderView, type OrderModel, type OrderRow } from "./orders.model";
import { insertOrderAlone, insertOrderRow, type NewOrderRecord } from "./orders.repository";
import { recordOrderCreated } from "../../lib/metrics/business-metrics";
import type { PartialSettingsSchema } from "../../lib/broker/service-schema";
import { OrdersExpiryMixin, type OrdersExpiryMethods, type OrdersExpirySettings, type OrdersExpiryVars } from "./orders.expiry";
import {
	OrdersIdempotencyMixin,
	type IdempotentRequest,
	type OrdersIdempotencyMethods,
	type OrdersIdempotencySettings,
	type OrdersIdempotencyVars
} from "./orders.idempotency";
import { OrdersSagaMixin, type OrdersSagaMethods, type OrdersSagaVars } from "./orders.saga";
import { OrdersHistoryMixin, type OrdersHistoryMethods } from "./orders.history";
import type { CreatedOrder, OrdersMeta } from "./orders.types";

export type { CreatedOrder, OrdersMeta } from "./orders.types";

/**
 * Settings of the orders service: its database's, its outbox's, its expiry's, its Idempotency-Keys',
 * and the inbox's retention.
 */
export interface OrdersSettings extends DbSettings, OutboxSettings, OrdersExpirySettings, OrdersIdempotencySettings {
	/** How long a consumed event id is remembered for deduplication. */
	inboxRetentionMs: number;
	/** Creates written at once (CREATE_CONCURRENCY); the others wait their turn, first come first served. */
	createConcurrency: number;
	/** Creates that may wait for their turn (CREATE_QUEUE_SIZE); past it a create is refused, 503. */
	createQueueSize: number;
}

/** Deletes the inbox's event ids older than `:seconds`, by the `processed_at` index (migration 007). */
export const PRUNE_INBOX_SQL = "DELETE FROM processed_events WHERE processed_at < now() - make_interval(secs => :seconds) RETURNING event_id";

/** How often old event ids are pruned from the inbox. */
const INBOX_PRUNE_INTERVAL_MS = 60_000;

/** The methods of the orders service, with those of its mixins. */
export interface OrdersMethods extends DbMethods, OutboxMethods, OrdersSagaMethods, OrdersExpiryMethods, OrdersIdempotencyMethods, OrdersHistoryMethods {
	createOrder(params: CreateOrderParams, meta: OrdersMeta): Promise<CreatedOrder>;
	insertOrder(t: Transaction | null, request: OrderRequest, meta: OrdersMeta, idempotency: IdempotentRequest | null): Promise<CreatedOrder>;
	findOrder(id: string, caller: Caller | null): Promise<OrderRow>;
	listOrders(params: ListOrdersParams, caller: Caller | null): Promise<OrderPage>;
	pruneProcessedEvents(): Promise<number>;
}

/** What the orders service keeps on its instance, with what its mixins keep. */
export interface OrdersVars extends DbVars<OrderModel>, OutboxVars, OrdersExpiryVars, OrdersIdempotencyVars, OrdersSagaVars {
	/** Prunes the inbox every {@link INBOX_PRUNE_INTERVAL_MS}. */
	inboxPruneTimer?: NodeJS.Timeout;
}

const OrdersService: PartialSettingsSchema<OrdersSettings, OrdersMethods, OrdersVars> = {
	name: "orders",

	// The database comes last: Moleculer starts the last mixin first and stops it last, so the
	// database is up before the saga's sweeper and the relay start, and still up when the sweeper
	// finishes and the relay flushes at shutdown.
	mixins: [
		OrdersHistoryMixin,
		OrdersExpiryMixin,
		OrdersSagaMixin,
		OrdersIdempotencyMixin,
		OutboxMixin,
		createDbMixin({ migrations: ordersMigrations, defineModels: defineOrderModel, embeddedDataDir: embeddedDataDirOf("orders") })
	],

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
				const { order, replayed } = await this.createOrder(ctx.params, ctx.meta);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/orders/${order.id}`;
				if (replayed) ctx.meta.$responseHeaders = { "Idempotent-Replayed": "true" };
				return order;
			}
		},

		/** Returns one order by id; a customer's own only (another's is answered as unknown). */
		get: {
			params: orderIdSchema,
			async handler(ctx: Context<{ id: string }, OrdersMeta>): Promise<OrderView> {
				return toOrderView(await this.findOrder(ctx.params.id, callerOf(ctx.meta)));
			}
		},

		/** Returns a page of orders, newest first, with the total count of the filter; a customer's own only. */
		list: {
			params: listOrdersSchema,
			async handler(ctx: Context<ListOrdersParams, OrdersMeta>): Promise<OrderPage> {
				return this.listOrders(ctx.params, callerOf(ctx.meta));
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

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Creates the order, or returns the first one for a repeated Idempotency-Key of the same
		 * caller (another caller's key is another key). The customer is the one the body names, else
		 * the caller; a customer may name only itself.
		 */
		async createOrder(createParams: CreateOrderParams, meta: OrdersMeta): Promise<CreatedOrder> {
			const caller = callerOf(meta);
			const request: OrderRequest = { ...createParams, customerId: customerOfNewOrder(createParams.customerId, caller) };
			const key = meta.idempotencyKey;
			const created = key
				? await this.createOnce(request, meta, { scope: idempotencyScope(caller), key, fingerprint: requestFingerprint(request) })
				: await this.insertOrder(null, request, meta, null);
			if (!created.replayed) {
				recordOrderCreated(this.broker);
				this.logger.info("Order created.", { orderId: created.order.id, correlationId: created.order.correlationId });
			}
			return created;
		},

		/**
		 * Inserts a new `pending` order with its `order.created` event and its history entry, in one
		 * statement: in the caller's transaction `t`, or else on its own (one round trip, one commit).
		 */
		async insertOrder(t: Transaction | null, request: OrderRequest, meta: OrdersMeta, idempotency: IdempotentRequest | null): Promise<CreatedOrder> {
			const order: NewOrder = {
				id: randomUUID(),
				customerId: request.customerId,
				items: request.items,
				totalAmount: computeTotal(request.items),
				currency: request.currency,
				correlationId: meta.correlationId ?? randomUUID(),
				createdAt: new Date()
			};
			const row: OrderRow = {
				...order,
				status: OrderStatus.Pending,
				errorMessage: null,
				idempotencyKey: idempotency?.key ?? null,
				idempotencyScope: idempotency?.scope ?? null,
				requestHash: idempotency?.fingerprint ?? null,
				updatedAt: order.createdAt
			};
			const event = orderCreatedEvent(order, randomUUID());
			const record: NewOrderRecord = {
				row,
				step: {
					step: HistorySteps.Created,
					eventId: event.eventId,
					nodeID: this.broker.nodeID,
					detail: { totalAmount: order.totalAmount, currency: order.currency, lines: order.items.length }
				},
				outbox: outboxRowValues(Events.OrderCreated, ConsumerGroups[Events.OrderCreated], event, { correlationId: order.correlationId })
			};
			if (t) {
				const tx = sqlOf(t);
				await insertOrderRow(tx, record);
				tx.afterCommit(() => this.wakeOutboxRelay());
			} else {
				await insertOrderAlone(this.db(), record);
				this.wakeOutboxRelay();
			}
			// The answer is the row just written: no need to read it back.
			return { order: toOrderView(row), replayed: false };
		},

		/** Loads an order row the caller may see, or throws a 404: another customer's order is unknown to a customer. */
		async findOrder(id: string, caller: Caller | null): Promise<OrderRow> {
			if (!isOrderId(id)) throw new OrderNotFoundError(id);
			const Order: OrderModel = this.model;
			const row = await Order.findOne({ where: { id, ...visibleTo(caller) } });
			if (!row) throw new OrderNotFoundError(id);
			return row.get({ plain: true });
		},

		/** Filters, pages and counts orders; a customer's filter is always its own id. */
		async listOrders(params: ListOrdersParams, caller: Caller | null): Promise<OrderPage> {
			const window = pageWindow(params.page, params.pageSize, MAX_PAGE_SIZE);
			const where: WhereOptions<OrderRow> = {};
			if (params.status) where.status = params.status;
			const customerId = customerFilterOfList(params.customerId, caller);
			if (customerId) where.customerId = customerId;

			const Order: OrderModel = this.model;
			const { rows, count } = await Order.findAndCountAll({
				where,
				limit: window.limit,
				offset: window.offset,
				order: [
					["createdAt", "DESC"],
					["id", "ASC"]
				]
			});
			return {
				rows: rows.map(r => toOrderView(r.get({ plain: true }))),
				...pageInfo(count, window.page, window.pageSize)
			};
		},

		/**
		 * Forgets consumed event ids older than the retention period; returns how many went. An
		 * event replayed after that still changes nothing: the state machine ignores an answer to an order it no longer fits.
		 */
		async pruneProcessedEvents(): Promise<number> {
			const deleted = await this.db().query(PRUNE_INBOX_SQL, {
				type: QueryTypes.SELECT,
				replacements: { seconds: this.settings.inboxRetentionMs / 1000 }
			});
			return deleted.length;
		}
	},

	// --- lifecycle -------------------------------------------------------------------------------
	started() {
		this.inboxPruneTimer = this.everyWhileReady(INBOX_PRUNE_INTERVAL_MS, "Inbox pruning failed; it runs again later.", () =>
			this.pruneProcessedEvents()
		);
	},

	stopped() {
		clearInterval(this.inboxPruneTimer);
	}
};

export default OrdersService;
