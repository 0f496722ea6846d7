/**
 * The orders side of the saga, apart from the order's own actions: cancel and the processor's
 * answers (`order.processed`, `order.compensated`); the expiry sweeper is in orders.expiry.ts, the
 * history in orders.history.ts. The state machine in orders.domain.ts decides every step; this mixin carries
 * its decisions out, each in one transaction with its outbox events and its history entry.
 *
 * Requires the database and outbox mixins and the orders service's `findOrder`.
 */
import { randomUUID } from "node:crypto";
import type { Context, ServiceSettingSchema } from "moleculer";
import type { Transaction } from "sequelize";
import {
	ConsumerGroups,
	Events,
	orderCompensatedSchema,
	orderProcessedSchema,
	type OrderCompensatedEvent,
	type OrderProcessedEvent
} from "../../lib/contracts/events";
import { OrderStatus, cancelOrderSchema, type CancelOrderParams, type OrderView } from "../../lib/contracts/orders";
import type { AnyServiceSchema, PartialSettingsSchema } from "../../lib/broker/service-schema";
import type { DbMethods, DbVars } from "../../mixins/db.mixin";
import type { OutboxMethods } from "../../mixins/outbox.types";
import {
	HistorySteps,
	OrderTriggers,
	decideOrder,
	isOrderId,
	orderCancelledEvent,
	processedTrigger,
	type EmittedCancellation,
	type OrderDecision,
	type OrderTrigger
} from "./orders.domain";
import { OrderNotCancellableError, OrderNotFoundError } from "./orders.errors";
import { toOrderView, type OrderModel, type OrderRow } from "./orders.model";
import {
	appendStep,
	applyUsualMoves,
	changeOrder,
	consumeOrderEvent,
	type NewHistoryEntry,
	type UsualMove,
	type UsualMoveResult
} from "./orders.repository";
import { Batcher } from "../../lib/database/batcher";
import { inTransaction, sqlOf, type SqlTransaction } from "../../lib/database/sql";
import type { OrdersMeta } from "./orders.types";
import type { Caller } from "../../lib/auth/caller";
import { callerOf, visibleTo } from "./orders.access";
import { isOutcomeStatus, recordOrderFinished } from "../../lib/metrics/business-metrics";

/** An event of the saga that orders consumes: what the state machine needs to know of it. */
interface ConsumedOrderEvent {
	eventId: string;
	orderId: string;
	correlationId: string;
}

/** The history steps of one trigger: when it is carried out, and when it is ignored. */
interface StepNames {
	applied: string;
	ignored: string;
}

/** What carrying out a decision needs besides the decision: the step, its event, its details. */
interface DecisionContext {
	steps: StepNames;
	/** The consumed event that caused the step, if any. */
	eventId?: string;
	detail?: Record<string, unknown>;
	/** The error message a `failed` order keeps. */
	errorMessage?: string;
	/** The caller's reason, carried by the `order.cancelled` event. */
	reason?: string;
	/** The status the order is almost always in when this event arrives: tried first in one statement. */
	usually?: OrderStatus;
}

/** The methods of the saga mixin. */
export interface OrdersSagaMethods {
	/** Carries out a cancel request in one transaction, the order's row locked. */
	cancelOrder(params: CancelOrderParams, meta: OrdersMeta): Promise<OrderView>;
	/** Applies a consumed event once, as the state machine decides. */
	applyOrderEvent(eventName: string, event: ConsumedOrderEvent, trigger: OrderTrigger, context: DecisionContext): Promise<void>;
	/** The usual case of a consumed event in one statement; false when it changed nothing. */
	applyUsualMove(eventName: string, event: ConsumedOrderEvent, trigger: OrderTrigger, context: DecisionContext, usually: OrderStatus): Promise<boolean>;
	/** Carries out a decision inside the caller's transaction; returns the order as it is now. */
	carryOutDecision(tx: SqlTransaction, order: OrderRow, decision: OrderDecision, context: DecisionContext): Promise<OrderRow>;
	/** Queues the `order.cancelled` events a decision asks for; returns the first one's id, if any. */
	queueCancellations(
		t: Transaction | SqlTransaction,
		order: { id: string; correlationId: string },
		emit: EmittedCancellation[],
		reason: string | undefined,
		at: Date
	): Promise<string | null>;
}

/** What the saga needs of the service it is mixed into. */
interface HostMethods extends DbMethods, OutboxMethods {
	findOrder(id: string, caller: Caller | null): Promise<OrderRow>;
}

/** What the saga mixin keeps on the service instance. */
export interface OrdersSagaVars {
	/** Batches the usual moves of the events consumed at the same time into one statement. */
	usualMoves: Batcher<UsualMove, UsualMoveResult>;
}

/** Usual moves in one statement at most. */
const USUAL_MOVES_PER_BATCH = 16;

type OrdersSagaSchema = PartialSettingsSchema<ServiceSettingSchema, OrdersSagaMethods & HostMethods, DbVars<OrderModel> & OrdersSagaVars>;

const ordersSagaSchema: OrdersSagaSchema = {
	name: "orders-saga",

	created() {
		this.usualMoves = new Batcher<UsualMove, UsualMoveResult>({
			runBatch: moves => applyUsualMoves(this.db(), moves),
			runOne: async move => (await applyUsualMoves(this.db(), [move]))[0],
			maxBatch: USUAL_MOVES_PER_BATCH,
			onSplit: (err, size) => this.logger.warn(`A batch of ${size} consumed events failed; they are applied one by one.`, { error: err.message })
		});
	},

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/**
		 * Cancels an order: a pending one at once, a completed one once the processor released its
		 * stock (`cancelling` meanwhile). A repeated cancel is answered as the first; a failed or
		 * expired order cannot be cancelled (409). A customer cancels its own orders only: another's
		 * is answered as unknown (404), and left as it is.
		 */
		cancel: {
			params: cancelOrderSchema,
			async handler(ctx: Context<CancelOrderParams, OrdersMeta>): Promise<OrderView> {
				return this.cancelOrder(ctx.params, ctx.meta);
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
				const event = ctx.params;
				await this.applyOrderEvent(Events.OrderProcessed, event, processedTrigger(event.status), {
					steps: { applied: HistorySteps.ProcessedReceived, ignored: HistorySteps.ProcessedIgnored },
					eventId: event.eventId,
					usually: OrderStatus.Pending,
					detail: event.status === "failed" ? { outcome: event.status, errorMessage: event.errorMessage ?? null } : { outcome: event.status },
					errorMessage: event.status === "failed" ? (event.errorMessage ?? "Processing failed.") : undefined
				});
			}
		},

		/** The processor released what it held for a cancelled order: a cancelling order ends cancelled. */
		[Events.OrderCompensated]: {
			group: ConsumerGroups[Events.OrderCompensated],
			params: orderCompensatedSchema,
			async handler(ctx: Context<OrderCompensatedEvent>): Promise<void> {
				const event = ctx.params;
				await this.applyOrderEvent(Events.OrderCompensated, event, OrderTriggers.Compensated, {
					steps: { applied: HistorySteps.CompensatedReceived, ignored: HistorySteps.CompensatedIgnored },
					eventId: event.eventId,
					usually: OrderStatus.Cancelling,
					detail: { cause: event.cause, released: event.released }
				});
			}
		}
	},

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Carries out a cancel request in one transaction, the order's row locked. An order the caller
		 * may not see is not even locked: it is unknown (404). Only the first cancel writes anything.
		 */
		async cancelOrder(params: CancelOrderParams, meta: OrdersMeta): Promise<OrderView> {
			if (!isOrderId(params.id)) throw new OrderNotFoundError(params.id);
			const Order: OrderModel = this.model;
			const order = await this.transaction(async (t: Transaction) => {
				const where = { id: params.id, ...visibleTo(callerOf(meta)) };
				const row = await Order.findOne({ where, transaction: t, lock: t.LOCK.UPDATE });
				if (!row) throw new OrderNotFoundError(params.id);
				const current = row.get({ plain: true });
				const decision = decideOrder(current, OrderTriggers.CancelRequested);
				if (decision.outcome === "refuse") throw new OrderNotCancellableError(current.id, current.status, decision.reason);
				// A repeat (already cancelling or cancelled) is answered with the order and recorded
				// nowhere: a history row per repeat, with its reason, would let a caller grow the
				// history without bound.
				if (decision.outcome === "unchanged") return current;
				const requestCorrelationId = meta.correlationId && meta.correlationId !== current.correlationId ? { requestCorrelationId: meta.correlationId } : {};
				return this.carryOutDecision(sqlOf(t), current, decision, {
					steps: { applied: HistorySteps.CancelRequested, ignored: HistorySteps.CancelRequested },
					detail: { reason: params.reason ?? null, ...requestCorrelationId },
					reason: params.reason
				});
			});
			return toOrderView(order);
		},

		/**
		 * Applies a consumed event once: its id goes into the inbox in the same transaction as the
		 * change, so a redelivery finds it there and changes nothing. The state machine decides; a
		 * late, repeated or out-of-order event is recorded in the history as ignored.
		 */
		async applyOrderEvent(eventName: string, event: ConsumedOrderEvent, trigger: OrderTrigger, context: DecisionContext): Promise<void> {
			const logContext = { orderId: event.orderId, correlationId: event.correlationId, eventId: event.eventId };
			if (context.usually && (await this.applyUsualMove(eventName, event, trigger, context, context.usually))) return;
			await inTransaction(this.db(), async tx => {
				const { firstTime, order } = await consumeOrderEvent(tx, event.eventId, eventName, event.orderId);
				if (!order) {
					this.logger.warn(`'${eventName}' names an unknown order; ignored.`, logContext);
					return;
				}
				const decision: OrderDecision = firstTime
					? decideOrder(order, trigger)
					: { outcome: "ignore", reason: "a duplicate: this event was already handled" };
				await this.carryOutDecision(tx, order, decision, context);
			});
		},

		/**
		 * The usual case of a consumed event in one statement instead of a transaction of four: the
		 * state machine's decision for an order in the `usually` status, applied only if the order is
		 * in that status and the event is new. The events a consumer holds at once share the
		 * statement (and its commit), each acknowledged after it. True when it applied; false sends
		 * the event down the general path, which decides on the order as it is.
		 */
		async applyUsualMove(
			eventName: string,
			event: ConsumedOrderEvent,
			trigger: OrderTrigger,
			context: DecisionContext,
			usually: OrderStatus
		): Promise<boolean> {
			const decision = decideOrder({ id: event.orderId, status: usually, errorMessage: null }, trigger);
			if (decision.outcome !== "apply" || decision.emit.length > 0) return false;
			const now = new Date();
			const moved = await this.usualMoves.submit({
				orderId: event.orderId,
				eventId: event.eventId,
				eventName,
				from: usually,
				to: decision.next,
				errorMessage: decision.next === OrderStatus.Failed ? (context.errorMessage ?? "Processing failed.") : null,
				at: now,
				step: context.steps.applied,
				nodeID: this.broker.nodeID,
				detail: context.detail ?? null
			});
			if (!moved) return false;
			const finished = decision.next;
			if (isOutcomeStatus(finished)) recordOrderFinished(this.broker, finished, moved.createdAt, now);
			this.logger.info(`Order ${finished}.`, { orderId: event.orderId, correlationId: moved.correlationId, eventId: event.eventId, status: finished });
			return true;
		},

		/**
		 * Carries out the state machine's decision inside the caller's transaction: the new status,
		 * the `order.cancelled` events it asks for (through the outbox), and the history entry.
		 * Returns the order as it is now.
		 */
		async carryOutDecision(tx: SqlTransaction, order: OrderRow, decision: OrderDecision, context: DecisionContext): Promise<OrderRow> {
			const logContext = { orderId: order.id, correlationId: order.correlationId, eventId: context.eventId };
			const entry: NewHistoryEntry = {
				orderId: order.id,
				step: context.steps.applied,
				status: order.status,
				eventId: context.eventId ?? null,
				correlationId: order.correlationId,
				nodeID: this.broker.nodeID,
				detail: context.detail ?? null
			};
			if (decision.outcome === "refuse") throw new OrderNotCancellableError(order.id, order.status, decision.reason);
			if (decision.outcome !== "apply") {
				if (decision.outcome === "ignore") {
					this.logger.info(`'${context.steps.ignored}': ${decision.reason}.`, { ...logContext, status: order.status });
					entry.step = context.steps.ignored;
				}
				entry.detail = { ...entry.detail, [decision.outcome === "ignore" ? "ignored" : "unchanged"]: decision.reason };
				await appendStep(tx, entry);
				return order;
			}

			const now = new Date();
			const updated: OrderRow = {
				...order,
				status: decision.next,
				errorMessage: decision.next === OrderStatus.Failed ? (context.errorMessage ?? "Processing failed.") : order.errorMessage,
				updatedAt: now
			};
			const sentEventId = await this.queueCancellations(tx, order, decision.emit, context.reason, now);
			// The step names the event it consumed, or else the one it sent.
			entry.eventId ??= sentEventId;
			await changeOrder(tx, { orderId: order.id, status: updated.status, errorMessage: updated.errorMessage, at: now }, entry);
			const finished = decision.next;
			// Counted once the change is committed: a rolled-back step (or a redelivery, ignored above) counts nothing.
			if (isOutcomeStatus(finished)) tx.afterCommit(() => recordOrderFinished(this.broker, finished, order.createdAt, now));
			this.logger.info(`Order ${decision.next}.`, { ...logContext, status: decision.next });
			return updated;
		},

		/** Queues the `order.cancelled` events a decision asks for; returns the first one's id, if any. */
		async queueCancellations(
			t: Transaction | SqlTransaction,
			order: { id: string; correlationId: string },
			emit: EmittedCancellation[],
			reason: string | undefined,
			at: Date
		): Promise<string | null> {
			let firstEventId: string | null = null;
			for (const emitted of emit) {
				const event = orderCancelledEvent(order, emitted.cause, reason, randomUUID(), at);
				await this.enqueueEvent(t, emitted.event, ConsumerGroups[emitted.event], event, { correlationId: order.correlationId });
				firstEventId ??= event.eventId;
			}
			return firstEventId;
		}
	}
};

/** The saga part of the orders service ({@link ordersSagaSchema}), for its `mixins`. */
export const OrdersSagaMixin: Partial<AnyServiceSchema> = ordersSagaSchema;
