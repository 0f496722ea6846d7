/**
 * The processor's side of the order saga, free of Moleculer: its one step (reserve an order's
 * stock, answer `order.processed`) and, beside it, that step's compensation (release the stock,
 * answer `order.compensated`), then the stock it keeps. Built from explicit dependencies, so that
 * the service only adapts actions and events to it.
 */
import { randomUUID } from "node:crypto";
import type { Transaction } from "sequelize";
import { ConsumerGroups, Events, type OrderCancelledEvent, type OrderCreatedEvent, type ReleasedLine } from "../../lib/contracts/events";
import { Batcher } from "../../lib/database/batcher";
import { inTransaction, sqlOf, type SqlTransaction } from "../../lib/database/sql";
import { FaultPoints, hitFaultPoint } from "../../lib/fault-points";
import { outboxRowValues } from "../../mixins/outbox.mixin";
import { DEFAULT_PROCESSOR_BATCH_SIZE } from "./processor.defaults";
import {
	HistorySteps,
	ProcessingStatus,
	decideProcessing,
	demoCatalogue,
	orderCompensatedEvent,
	orderProcessedEvent,
	planReservation,
	type CompensateDecision,
	type IgnoreDecision,
	type RecordState
} from "./processor.domain";
import type { NewOrderOutcome, ProcessorSagaDeps } from "./processor-saga.types";
import { SkuNotFoundError } from "./processor.errors";
import {
	appendStep,
	findStock,
	finishOrder,
	insertRecord,
	lockRecord,
	lockRecordIn,
	markCancelled,
	releaseStock,
	setAvailable,
	startOrders,
	stockEmptyCatalogue,
	type HistoryStepRecord,
	type StockView
} from "./processor.repository";

/** The parts of an event a history step is written for. */
type StepOf = Pick<OrderCreatedEvent, "orderId" | "correlationId">;

/** The processor's side of the order saga: new orders and their compensations, and the stock they draw on. */
export class ProcessorSaga {
	/** Batches the `order.created` events handled at the same time into one transaction. */
	private readonly newOrders: Batcher<OrderCreatedEvent, NewOrderOutcome>;

	constructor(private readonly deps: ProcessorSagaDeps) {
		this.newOrders = new Batcher<OrderCreatedEvent, NewOrderOutcome>({
			runBatch: events => this.reserve(events),
			runOne: async event => (await this.reserve([event]))[0],
			maxBatch: deps.settings.batchSize ?? DEFAULT_PROCESSOR_BATCH_SIZE,
			onSplit: (err, size) =>
				deps.logger.warn(`A batch of ${size} 'order.created' events failed; they are handled one by one.`, { error: err.message })
		});
	}

	// --- the step: reserve a new order's stock ------------------------------------------------------

	/**
	 * Handles a new order: in the next batch of `order.created` events (see {@link Batcher}),
	 * which commits before this resolves. Then counts and logs the outcome.
	 */
	async processOrder(event: OrderCreatedEvent): Promise<void> {
		const { logger, metrics, settings } = this.deps;
		const context = { orderId: event.orderId, correlationId: event.correlationId, eventId: event.eventId };
		// A duration of work on this process, not a time the product reads: the monotonic clock.
		const startedAt = process.hrtime.bigint();
		const outcome = await this.newOrders.submit(event);

		// Committed: counted once per order, since a redelivery is ignored.
		if (!("action" in outcome)) {
			metrics.processing(outcome.ok ? "completed" : "failed", Number(process.hrtime.bigint() - startedAt) / 1e9);
			metrics.stockReservation(outcome.ok ? "reserved" : outcome.problem);
		}
		hitFaultPoint(settings.faultPoints, FaultPoints.ProcessorAfterCommit);
		if ("action" in outcome) {
			logger.info(
				outcome.because === "late"
					? "Late 'order.created' event ignored: the order was cancelled before it was processed."
					: "Duplicate 'order.created' event ignored: the order was already processed.",
				context
			);
		} else if (outcome.ok) {
			logger.info("Order processed: stock reserved.", context);
		} else {
			logger.info(`Order rejected: ${outcome.reason}`, context);
		}
	}

	/**
	 * Handles new orders in one transaction: inserts their records (in flight) and locks the stock
	 * of their SKUs in one statement, asks the stock for each order's reservation plan in turn, and
	 * writes each outcome in one statement — the record's final status, the reservation, the
	 * history and the `order.processed` answer in the outbox. A redelivery finds its record: the
	 * state machine ignores a finished record (a duplicate) or a cancellation tombstone (a late
	 * event), and processes a record a version before this one left in flight. An order delivered
	 * twice in one batch is decided the second time on the state the first left it in, as two
	 * transactions one after the other would.
	 */
	private async reserve(events: OrderCreatedEvent[]): Promise<NewOrderOutcome[]> {
		const { nodeID, outbox } = this.deps;
		return inTransaction(this.deps.db(), async (tx): Promise<NewOrderOutcome[]> => {
			const { fresh, stock } = await startOrders(
				tx,
				events.map(e => ({ orderId: e.orderId, eventId: e.eventId, correlationId: e.correlationId })),
				events.flatMap(e => e.items.map(i => i.sku))
			);
			// What is left of each SKU as the batch's orders take their share, in turn.
			const available = new Map(stock.map(s => [s.sku, s.available]));
			const outcomes: NewOrderOutcome[] = [];
			// The record of each order as this batch left it, for an order delivered twice in it.
			const decided = new Map<string, RecordState>();
			for (const event of events) {
				const record =
					decided.get(event.orderId) ??
					(fresh.has(event.orderId) ? { status: ProcessingStatus.Processing, cancellationHandled: false } : await lockRecordIn(tx, event.orderId));
				if (!record) throw new Error(`The processing record of order '${event.orderId}' is missing.`);
				decided.set(event.orderId, record);
				const decision = decideProcessing(record, Events.OrderCreated);
				if (decision.action === "ignore") {
					await this.recordStep(tx, event, { step: decision.step, status: record.status, eventId: event.eventId, detail: { because: decision.because } });
					outcomes.push(decision);
					continue;
				}

				const plan = planReservation(event.items, [...available].map(([sku, units]) => ({ sku, available: units })));
				if (plan.ok) for (const line of plan.lines) available.set(line.sku, (available.get(line.sku) ?? 0) - line.quantity);
				const status = plan.ok ? ProcessingStatus.Completed : ProcessingStatus.Failed;
				decided.set(event.orderId, { status, cancellationHandled: false });
				const answer = orderProcessedEvent(event.orderId, event.correlationId, plan, randomUUID(), this.now());
				await finishOrder(tx, {
					orderId: event.orderId,
					eventId: event.eventId,
					correlationId: event.correlationId,
					nodeID,
					status,
					errorMessage: plan.ok ? null : plan.reason,
					lines: plan.ok ? plan.lines : [],
					steps: [
						{ step: HistorySteps.CreatedReceived, status: record.status, eventId: event.eventId },
						{
							step: plan.ok ? HistorySteps.StockReserved : HistorySteps.Rejected,
							status,
							eventId: answer.eventId,
							detail: plan.ok ? { lines: plan.lines } : { reason: plan.reason }
						}
					],
					outbox: outboxRowValues(Events.OrderProcessed, ConsumerGroups[Events.OrderProcessed], answer, { correlationId: event.correlationId })
				});
				outcomes.push(plan);
			}
			tx.afterCommit(() => outbox.wake());
			return outcomes;
		});
	}

	// --- its compensation: release the stock of a cancelled order -----------------------------------

	/**
	 * Handles a cancellation in one transaction: makes sure the order has a record (a `CANCELLED`
	 * tombstone when none), locks it, and carries out the state machine's decision — release every
	 * live reservation of a completed order, move the record, answer `order.compensated` through
	 * the outbox. A second cancellation of the same order changes and sends nothing.
	 */
	async compensateOrder(event: OrderCancelledEvent): Promise<void> {
		const { logger, metrics } = this.deps;
		const context = { orderId: event.orderId, correlationId: event.correlationId, eventId: event.eventId, cause: event.cause };
		const { decision, released } = await this.deps.db().transaction(t => this.release(t, event));

		if (decision.action === "compensate" && decision.release) metrics.stockReservation("released");
		if (decision.action === "ignore") {
			logger.info("Duplicate 'order.cancelled' event ignored: the order's cancellation was already handled.", context);
		} else if (decision.release) {
			logger.info(`Order compensated: ${released.length} stock line(s) released.`, { ...context, released });
		} else if (decision.next === ProcessingStatus.Failed) {
			logger.info("Cancellation of a failed order: nothing to release.", context);
		} else {
			logger.info("Order cancelled before it was processed: nothing will be reserved for it.", context);
		}
	}

	/** Carries out the state machine's answer to a cancellation in the transaction `t`: what was decided, and released. */
	private async release(
		t: Transaction,
		event: OrderCancelledEvent
	): Promise<{ decision: CompensateDecision | IgnoreDecision; released: ReleasedLine[] }> {
		const db = this.deps.db();
		const tombstone = await insertRecord(
			db,
			{ orderId: event.orderId, eventId: event.eventId, correlationId: event.correlationId, status: ProcessingStatus.Cancelled },
			this.now(),
			t
		);
		const record = tombstone ? null : await lockRecord(db, t, event.orderId);
		const tx = sqlOf(t);
		const decision = decideProcessing(record, Events.OrderCancelled);
		const before = record?.status ?? ProcessingStatus.Cancelled;
		const why = { cause: event.cause, ...(event.reason === undefined ? {} : { reason: event.reason }) };
		if (decision.action === "ignore") {
			await this.recordStep(tx, event, { step: decision.step, status: before, eventId: event.eventId, detail: { because: decision.because, ...why } });
			return { decision, released: [] };
		}
		await this.recordStep(tx, event, { step: HistorySteps.CancelledReceived, status: before, eventId: event.eventId, detail: why });

		const released = decision.release ? await releaseStock(db, t, event.orderId, event.eventId) : [];
		await markCancelled(db, t, event.orderId, decision.next);
		const answer = orderCompensatedEvent(event.orderId, event.correlationId, event.cause, released, randomUUID(), this.now());
		await this.deps.outbox.enqueue(t, Events.OrderCompensated, ConsumerGroups[Events.OrderCompensated], answer, {
			correlationId: event.correlationId
		});
		await this.recordStep(tx, event, {
			step: decision.step,
			status: decision.next,
			eventId: answer.eventId,
			detail: decision.release ? { released, ...why } : why
		});
		return { decision, released };
	}

	// --- the stock ----------------------------------------------------------------------------------

	/** Reads one SKU's stock or throws a 404. */
	async readStock(sku: string): Promise<StockView> {
		const stock = await findStock(this.deps.db(), sku);
		if (!stock) throw new SkuNotFoundError(sku);
		return stock;
	}

	/** Sets one SKU's available units (creating the SKU when it is new); returns its stock. */
	async setStock(sku: string, available: number): Promise<StockView> {
		await setAvailable(this.deps.db(), sku, available);
		this.deps.logger.info(`Stock of '${sku}' set to ${available}.`);
		return this.readStock(sku);
	}

	/** Fills an empty stock table with the demo catalogue; a table with any row is left alone. */
	async seedDemoStock(): Promise<void> {
		const stocked = await stockEmptyCatalogue(this.deps.db(), demoCatalogue());
		if (stocked > 0) this.deps.logger.info(`Demo catalogue stocked: ${stocked} SKUs.`);
	}

	// --- lifecycle ----------------------------------------------------------------------------------

	/** Readies the saga once its database is connected and migrated: the demo stock, when asked for. */
	async start(): Promise<void> {
		if (this.deps.settings.demoStock) await this.seedDemoStock();
	}

	/** Resolves once no batch of new orders is queued or being written, so that the database may close. */
	async stop(): Promise<void> {
		await this.newOrders.idle();
	}

	/** Adds a step to the order's history, in the transaction of the change it describes. */
	private async recordStep(tx: SqlTransaction, event: StepOf, step: Omit<HistoryStepRecord, "orderId" | "correlationId" | "nodeID">): Promise<void> {
		await appendStep(tx, { ...step, orderId: event.orderId, correlationId: event.correlationId, nodeID: this.deps.nodeID });
	}

	/** Now, as the saga's clock tells it. */
	private now(): Date {
		return new Date(this.deps.clock.now());
	}
}
