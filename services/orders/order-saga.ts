/**
 * The orders side of the saga, read top to bottom as the order lives it: created (its
 * `order.created` queued with it), answered by the processor (`order.processed`), and undone by
 * the compensations beside it: a cancel (`order.cancelled`, then `order.compensated` once the
 * processor released the stock) or, when no answer came in time, the expiry (order-expiry.ts).
 * The state machine in orders.domain.ts decides every step; this class carries its decisions out,
 * each in one transaction with its outbox events and its history entry. It knows no broker: the
 * orders service builds it from its dependencies and adapts actions and events to it.
 */
import { randomUUID } from "node:crypto";
import type { Transaction } from "sequelize";
import { ConsumerGroups, Events, type OrderCompensatedEvent, type OrderProcessedEvent } from "../../lib/contracts/events";
import { OrderStatus, type CancelOrderParams, type CreateOrderParams, type OrderView } from "../../lib/contracts/orders";
import { Batcher } from "../../lib/database/batcher";
import { inTransaction, sqlOf, type SqlTransaction } from "../../lib/database/sql";
import { isOutcomeStatus } from "../../lib/metrics/business-metrics";
import { callerOf, customerOfNewOrder, idempotencyScope, visibleTo } from "./orders.access";
import {
	HistorySteps,
	OrderTriggers,
	decideOrder,
	isOrderId,
	orderCancelledEvent,
	processedTrigger,
	requestFingerprint,
	type EmittedCancellation,
	type OrderDecision,
	type OrderRequest,
	type OrderTrigger
} from "./orders.domain";
import { OrderNotCancellableError, OrderNotFoundError } from "./orders.errors";
import { toOrderView, type OrderRow } from "./orders.model";
import {
	appendStep,
	applyUsualMoves,
	changeOrder,
	consumeOrderEvent,
	insertOrderAlone,
	insertOrderRow,
	pruneProcessedEvents,
	type NewHistoryEntry,
	type UsualMove,
	type UsualMoveResult
} from "./orders.repository";
import { expireOverdue } from "./order-expiry";
import { IdempotencyKeys, type IdempotentRequest } from "./order-idempotency";
import { newOrderRecord } from "./order-record";
import type { OrderSagaDeps } from "./order-saga.types";
import type { CreatedOrder, OrdersMeta } from "./orders.types";

/** An event of the saga that orders consumes: what the state machine needs to know of it. */
interface ConsumedOrderEvent {
	eventId: string;
	orderId: string;
	correlationId: string;
}

/** What carrying out a decision needs besides the decision: the step, its event, its details. */
interface StepContext {
	/** The history step when the decision is carried out, and when it is ignored. */
	steps: { applied: string; ignored: string };
	/** The consumed event that caused the step, if any. */
	eventId?: string;
	detail?: Record<string, unknown>;
	/** The error message a `failed` order keeps. */
	errorMessage?: string;
	/** The caller's reason, carried by the `order.cancelled` event. */
	reason?: string;
}

/** Usual moves in one statement at most. */
const USUAL_MOVES_PER_BATCH = 16;

/** The orders saga: its steps, their compensations, and its housekeeping, on explicit dependencies. */
export class OrderSaga {
	/** Batches the usual moves of the events consumed at the same time into one statement (the throughput). */
	private readonly usualMoves: Batcher<UsualMove, UsualMoveResult>;
	private readonly idempotencyKeys: IdempotencyKeys;

	constructor(private readonly deps: OrderSagaDeps) {
		this.usualMoves = new Batcher<UsualMove, UsualMoveResult>({
			runBatch: moves => applyUsualMoves(deps.db(), moves),
			runOne: async move => (await applyUsualMoves(deps.db(), [move]))[0],
			maxBatch: USUAL_MOVES_PER_BATCH,
			onSplit: (err, size) => deps.logger.warn(`A batch of ${size} consumed events failed; they are applied one by one.`, { error: err.message })
		});
		this.idempotencyKeys = new IdempotencyKeys({ db: deps.db, model: deps.model, clock: deps.clock, settings: deps.settings });
	}

	// --- step: the order is created, and `order.created` queued with it ---------------------------

	/**
	 * Creates the order, or returns the first one for a repeated Idempotency-Key of the same caller
	 * (another caller's key is another key). The customer is the one the body names, else the
	 * caller; a customer may name only itself.
	 */
	async create(params: CreateOrderParams, meta: OrdersMeta): Promise<CreatedOrder> {
		const caller = callerOf(meta);
		const request: OrderRequest = { ...params, customerId: customerOfNewOrder(params.customerId, caller) };
		const key = meta.idempotencyKey;
		const idempotency: IdempotentRequest | null = key ? { scope: idempotencyScope(caller), key, fingerprint: requestFingerprint(request) } : null;
		const created = idempotency
			? await this.idempotencyKeys.createOnce(idempotency, t => this.insertOrder(t, request, meta, idempotency))
			: await this.insertOrder(null, request, meta, null);
		if (!created.replayed) {
			this.deps.metrics.orderCreated();
			this.deps.logger.info("Order created.", { orderId: created.order.id, correlationId: created.order.correlationId });
		}
		return created;
	}

	/**
	 * Inserts a new `pending` order with its `order.created` event and its history entry, in one
	 * statement: in the caller's transaction `t`, or else on its own (one round trip, one commit).
	 */
	async insertOrder(t: Transaction | null, request: OrderRequest, meta: OrdersMeta, idempotency: IdempotentRequest | null): Promise<CreatedOrder> {
		const { row, record } = newOrderRecord(request, meta, idempotency, new Date(this.deps.clock.now()), this.deps.nodeID);
		if (t) {
			const tx = sqlOf(t);
			await insertOrderRow(tx, record);
			tx.afterCommit(() => this.deps.outbox.wake());
		} else {
			await insertOrderAlone(this.deps.db(), record);
			this.deps.outbox.wake();
		}
		// The answer is the row just written: no need to read it back.
		return { order: toOrderView(row), replayed: false };
	}

	// --- step: the processor answers ---------------------------------------------------------------

	/** The processor's answer: moves a pending order to `completed` or `failed`. */
	onProcessed(event: OrderProcessedEvent): Promise<void> {
		const failed = event.status === "failed";
		return this.applyEvent(Events.OrderProcessed, event, processedTrigger(event.status), OrderStatus.Pending, {
			steps: { applied: HistorySteps.ProcessedReceived, ignored: HistorySteps.ProcessedIgnored },
			eventId: event.eventId,
			detail: failed ? { outcome: event.status, errorMessage: event.errorMessage ?? null } : { outcome: event.status },
			errorMessage: failed ? (event.errorMessage ?? "Processing failed.") : undefined
		});
	}

	// --- compensation: a cancel, and the processor's answer to it ---------------------------------

	/**
	 * Cancels an order in one transaction, its row locked: a pending one at once, a completed one
	 * once the processor released its stock (`cancelling` meanwhile). A repeated cancel is answered
	 * as the first and writes nothing; a failed or expired order cannot be cancelled (409). An
	 * order the caller may not see is not even locked: it is unknown (404).
	 */
	async cancel(params: CancelOrderParams, meta: OrdersMeta): Promise<OrderView> {
		if (!isOrderId(params.id)) throw new OrderNotFoundError(params.id);
		const order = await this.deps.db().transaction(async t => {
			const where = { id: params.id, ...visibleTo(callerOf(meta)) };
			const row = await this.deps.model().findOne({ where, transaction: t, lock: t.LOCK.UPDATE });
			if (!row) throw new OrderNotFoundError(params.id);
			const current = row.get({ plain: true });
			const decision = decideOrder(current, OrderTriggers.CancelRequested);
			if (decision.outcome === "refuse") throw new OrderNotCancellableError(current.id, current.status, decision.reason);
			// A repeat (already cancelling or cancelled) is recorded nowhere: a history row per
			// repeat, with its reason, would let a caller grow the history without bound.
			if (decision.outcome === "unchanged") return current;
			const requestCorrelationId = meta.correlationId && meta.correlationId !== current.correlationId ? { requestCorrelationId: meta.correlationId } : {};
			return this.carryOut(sqlOf(t), current, decision, {
				steps: { applied: HistorySteps.CancelRequested, ignored: HistorySteps.CancelRequested },
				detail: { reason: params.reason ?? null, ...requestCorrelationId },
				reason: params.reason
			});
		});
		return toOrderView(order);
	}

	/** The processor released what it held for a cancelled order: a cancelling order ends cancelled. */
	onCompensated(event: OrderCompensatedEvent): Promise<void> {
		return this.applyEvent(Events.OrderCompensated, event, OrderTriggers.Compensated, OrderStatus.Cancelling, {
			steps: { applied: HistorySteps.CompensatedReceived, ignored: HistorySteps.CompensatedIgnored },
			eventId: event.eventId,
			detail: { cause: event.cause, released: event.released }
		});
	}

	// --- compensation: no answer in time ------------------------------------------------------------

	/** Expires the orders no answer reached within ORDER_TIMEOUT_MS, each with its `order.cancelled`; returns how many. */
	expireOverdue(): Promise<number> {
		const { db, clock, metrics, logger, nodeID, settings } = this.deps;
		return expireOverdue({
			db,
			clock,
			metrics,
			logger,
			nodeID,
			orderTimeoutMs: settings.orderTimeoutMs,
			queueCancellations: (t, order, emit, reason, at) => this.queueCancellations(t, order, emit, reason, at)
		});
	}

	// --- housekeeping (order-timers.ts runs it) -------------------------------------------------------

	/**
	 * Forgets consumed event ids older than INBOX_RETENTION_MS; returns how many went. An event
	 * replayed after that still changes nothing: the state machine ignores an answer to an order it
	 * no longer fits.
	 */
	pruneProcessedEvents(): Promise<number> {
		return pruneProcessedEvents(this.deps.db(), new Date(this.deps.clock.now() - this.deps.settings.inboxRetentionMs));
	}

	/** Takes the expired Idempotency-Keys off their orders; returns how many. */
	pruneIdempotencyKeys(): Promise<number> {
		return this.idempotencyKeys.prune();
	}

	// --- carrying out a decision -------------------------------------------------------------------

	/**
	 * Applies a consumed event once: its id goes into the inbox in the same transaction as the
	 * change, so a redelivery finds it there and changes nothing. The usual case (the order is in
	 * the `usually` status) goes first through one batched statement; the rest decides on the order
	 * as it is, and a late, repeated or out-of-order event is recorded in the history as ignored.
	 */
	private async applyEvent(eventName: string, event: ConsumedOrderEvent, trigger: OrderTrigger, usually: OrderStatus, context: StepContext): Promise<void> {
		if (await this.applyUsualMove(eventName, event, trigger, usually, context)) return;
		await inTransaction(this.deps.db(), async tx => {
			const { firstTime, order } = await consumeOrderEvent(tx, event.eventId, eventName, event.orderId);
			if (!order) {
				this.deps.logger.warn(`'${eventName}' names an unknown order; ignored.`, { orderId: event.orderId, correlationId: event.correlationId, eventId: event.eventId });
				return;
			}
			const decision: OrderDecision = firstTime ? decideOrder(order, trigger) : { outcome: "ignore", reason: "a duplicate: this event was already handled" };
			await this.carryOut(tx, order, decision, context);
		});
	}

	/**
	 * The usual case of a consumed event in one statement instead of a transaction of four: the
	 * state machine's decision for an order in the `usually` status, applied only if the order is
	 * in that status and the event is new. The events consumed at once share the statement (and its
	 * commit), each acknowledged after it. False sends the event down the general path.
	 */
	private async applyUsualMove(eventName: string, event: ConsumedOrderEvent, trigger: OrderTrigger, usually: OrderStatus, context: StepContext): Promise<boolean> {
		const decision = decideOrder({ id: event.orderId, status: usually, errorMessage: null }, trigger);
		if (decision.outcome !== "apply" || decision.emit.length > 0) return false;
		const now = new Date(this.deps.clock.now());
		const moved = await this.usualMoves.submit({
			orderId: event.orderId,
			eventId: event.eventId,
			eventName,
			from: usually,
			to: decision.next,
			errorMessage: decision.next === OrderStatus.Failed ? (context.errorMessage ?? "Processing failed.") : null,
			at: now,
			step: context.steps.applied,
			nodeID: this.deps.nodeID,
			detail: context.detail ?? null
		});
		if (!moved) return false;
		const finished = decision.next;
		if (isOutcomeStatus(finished)) this.deps.metrics.orderFinished(finished, moved.createdAt, now);
		this.deps.logger.info(`Order ${finished}.`, { orderId: event.orderId, correlationId: moved.correlationId, eventId: event.eventId, status: finished });
		return true;
	}

	/**
	 * Carries out the state machine's decision inside the caller's transaction: the new status,
	 * the `order.cancelled` events it asks for (through the outbox), and the history entry.
	 * Returns the order as it is now.
	 */
	private async carryOut(tx: SqlTransaction, order: OrderRow, decision: OrderDecision, context: StepContext): Promise<OrderRow> {
		const logContext = { orderId: order.id, correlationId: order.correlationId, eventId: context.eventId };
		const entry: NewHistoryEntry = {
			orderId: order.id,
			step: context.steps.applied,
			status: order.status,
			eventId: context.eventId ?? null,
			correlationId: order.correlationId,
			nodeID: this.deps.nodeID,
			detail: context.detail ?? null
		};
		if (decision.outcome === "refuse") throw new OrderNotCancellableError(order.id, order.status, decision.reason);
		if (decision.outcome !== "apply") {
			if (decision.outcome === "ignore") {
				this.deps.logger.info(`'${context.steps.ignored}': ${decision.reason}.`, { ...logContext, status: order.status });
				entry.step = context.steps.ignored;
			}
			entry.detail = { ...entry.detail, [decision.outcome === "ignore" ? "ignored" : "unchanged"]: decision.reason };
			await appendStep(tx, entry);
			return order;
		}

		const now = new Date(this.deps.clock.now());
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
		if (isOutcomeStatus(finished)) tx.afterCommit(() => this.deps.metrics.orderFinished(finished, order.createdAt, now));
		this.deps.logger.info(`Order ${decision.next}.`, { ...logContext, status: decision.next });
		return updated;
	}

	/** Queues the `order.cancelled` events a decision asks for; returns the first one's id, if any. */
	private async queueCancellations(
		t: Transaction | SqlTransaction,
		order: { id: string; correlationId: string },
		emit: EmittedCancellation[],
		reason: string | undefined,
		at: Date
	): Promise<string | null> {
		let firstEventId: string | null = null;
		for (const emitted of emit) {
			const event = orderCancelledEvent(order, emitted.cause, reason, randomUUID(), at);
			await this.deps.outbox.enqueue(t, emitted.event, ConsumerGroups[emitted.event], event, { correlationId: order.correlationId });
			firstEventId ??= event.eventId;
		}
		return firstEventId;
	}
}
