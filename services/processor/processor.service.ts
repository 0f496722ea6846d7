import { randomUUID } from "node:crypto";
import type { Context } from "moleculer";
import type { Sequelize, Transaction } from "sequelize";
import {
	ConsumerGroups,
	Events,
	orderCancelledSchema,
	orderCreatedSchema,
	type OrderCancelledEvent,
	type OrderCreatedEvent,
	type ReleasedLine
} from "../../lib/contracts/events";
import { getStockSchema, setStockSchema } from "../../lib/contracts/stock";
import { createDbMixin, type DbMethods, type DbServiceSchema, type DbSettings, type DbVars } from "../../mixins/db.mixin";
import { Batcher } from "../../lib/database/batcher";
import { embeddedDataDirOf } from "../../lib/database/embedded-postgres";
import { inTransaction, sqlOf } from "../../lib/database/sql";
import { OutboxMixin, outboxRowValues, type OutboxMethods, type OutboxSettings, type OutboxVars } from "../../mixins/outbox.mixin";
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
	type RecordState,
	type ReservationPlan
} from "./processor.domain";
import { FaultPoints, hitFaultPoint } from "../../lib/fault-points";
import { recordProcessing, recordStockReservation } from "../../lib/metrics/business-metrics";
import { DEFAULT_PROCESSOR_BATCH_SIZE } from "./processor.defaults";
import { SkuNotFoundError } from "./processor.errors";
import { ProcessorHistoryMixin } from "./processor.history";
import { processorMigrations } from "./processor.migrations";
import { defineProcessingRecordModel, type ProcessingRecordModel } from "./processor.model";
import {
	appendStep,
	findStock,
	finishOrder,
	insertRecord,
	lockRecord,
	lockRecordIn,
	markCancelled,
	startOrders,
	releaseStock,
	setAvailable,
	stockEmptyCatalogue,
	type HistoryStepRecord,
	type StockView
} from "./processor.repository";

/** Settings of the processor: its database's, its outbox's, and the demo stock switch. */
export interface ProcessorSettings extends DbSettings, OutboxSettings {
	/** Fill an empty stock table with the demo catalogue on start. */
	demoStock: boolean;
	/** `order.created` events handled in one transaction at most (those that arrive together). */
	batchSize: number;
}

export type { StockView };

/** The methods of the processor, with those of its mixins. */
export interface ProcessorMethods extends DbMethods, OutboxMethods {
	processOrder(event: OrderCreatedEvent): Promise<void>;
	handleNewOrders(events: OrderCreatedEvent[]): Promise<NewOrderOutcome[]>;
	compensateOrder(event: OrderCancelledEvent): Promise<void>;
	recordStep(t: Transaction, event: { orderId: string; correlationId: string }, step: Omit<HistoryStepRecord, "orderId" | "correlationId" | "nodeID">): Promise<void>;
	readStock(sku: string): Promise<StockView>;
	seedDemoStock(): Promise<void>;
}

/** What became of one `order.created`: a reservation plan carried out, or an ignored redelivery. */
export type NewOrderOutcome = ReservationPlan | IgnoreDecision;

/** What the processor keeps on its instance, with what its mixins keep. */
export interface ProcessorVars extends DbVars<ProcessingRecordModel>, OutboxVars {
	/** Batches the `order.created` events handled at the same time into one transaction. */
	newOrders: Batcher<OrderCreatedEvent, NewOrderOutcome>;
}

const ProcessorService: DbServiceSchema<ProcessorSettings, ProcessorMethods, ProcessorVars> = {
	name: "processor",

	// The outbox comes first: see the orders service.
	mixins: [
		ProcessorHistoryMixin,
		OutboxMixin,
		createDbMixin({
			migrations: processorMigrations,
			defineModels: defineProcessingRecordModel,
			embeddedDataDir: embeddedDataDirOf("processor")
		})
	],

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/** Returns one SKU's stock. */
		getStock: {
			params: getStockSchema,
			async handler(ctx: Context<{ sku: string }>): Promise<StockView> {
				return this.readStock(ctx.params.sku);
			}
		},

		/** Sets one SKU's available units (creating the SKU when it is new). */
		setStock: {
			params: setStockSchema,
			async handler(ctx: Context<{ sku: string; available: number }>): Promise<StockView> {
				await setAvailable(this.db(), ctx.params.sku, ctx.params.available);
				this.logger.info(`Stock of '${ctx.params.sku}' set to ${ctx.params.available}.`);
				return this.readStock(ctx.params.sku);
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
			async handler(ctx: Context<OrderCreatedEvent>): Promise<void> {
				await this.processOrder(ctx.params);
			}
		},

		/** A cancelled or expired order: release what was reserved (once), answer with `order.compensated`. */
		[Events.OrderCancelled]: {
			group: ConsumerGroups[Events.OrderCancelled],
			params: orderCancelledSchema,
			async handler(ctx: Context<OrderCancelledEvent>): Promise<void> {
				await this.compensateOrder(ctx.params);
			}
		}
	},

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Handles a new order: in the next batch of `order.created` events (see {@link Batcher}),
		 * which commits before this resolves. Then counts and logs the outcome.
		 */
		async processOrder(event: OrderCreatedEvent): Promise<void> {
			const context = { orderId: event.orderId, correlationId: event.correlationId, eventId: event.eventId };
			const startedAt = process.hrtime.bigint();
			const outcome = await this.newOrders.submit(event);

			// Committed: counted once per order, since a redelivery is ignored.
			if (!("action" in outcome)) {
				recordProcessing(this.broker, outcome.ok ? "completed" : "failed", Number(process.hrtime.bigint() - startedAt) / 1e9);
				recordStockReservation(this.broker, outcome.ok ? "reserved" : outcome.problem);
			}
			hitFaultPoint(this.settings.faultPoints, FaultPoints.ProcessorAfterCommit);
			if ("action" in outcome) {
				this.logger.info(
					outcome.because === "late"
						? "Late 'order.created' event ignored: the order was cancelled before it was processed."
						: "Duplicate 'order.created' event ignored: the order was already processed.",
					context
				);
			} else if (outcome.ok) {
				this.logger.info("Order processed: stock reserved.", context);
			} else {
				this.logger.info(`Order rejected: ${outcome.reason}`, context);
			}
		},

		/**
		 * Handles new orders in one transaction: inserts their records (in flight) and locks the
		 * stock of their SKUs in one statement, asks the stock for each order's reservation plan in
		 * turn, and writes each outcome in one statement — the record's final status, the
		 * reservation, the history and the `order.processed` answer in the outbox. A redelivery finds
		 * its record: the state machine ignores a finished record (a duplicate) or a cancellation
		 * tombstone (a late event), and processes a record a version before this one left in flight.
		 * An order delivered twice in one batch is decided the second time on the state the first
		 * left it in, as two transactions one after the other would.
		 */
		async handleNewOrders(events: OrderCreatedEvent[]): Promise<NewOrderOutcome[]> {
			const nodeID = this.broker.nodeID;
			return inTransaction(this.db(), async (tx): Promise<NewOrderOutcome[]> => {
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
						await appendStep(tx, {
							step: decision.step,
							status: record.status,
							eventId: event.eventId,
							detail: { because: decision.because },
							orderId: event.orderId,
							correlationId: event.correlationId,
							nodeID
						});
						outcomes.push(decision);
						continue;
					}

					const plan = planReservation(event.items, [...available].map(([sku, units]) => ({ sku, available: units })));
					if (plan.ok) for (const line of plan.lines) available.set(line.sku, (available.get(line.sku) ?? 0) - line.quantity);
					const status = plan.ok ? ProcessingStatus.Completed : ProcessingStatus.Failed;
					decided.set(event.orderId, { status, cancellationHandled: false });
					const answer = orderProcessedEvent(event.orderId, event.correlationId, plan, randomUUID(), new Date());
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
				tx.afterCommit(() => this.wakeOutboxRelay());
				return outcomes;
			});
		},

		/**
		 * Handles a cancellation in one transaction: makes sure the order has a record (a `CANCELLED`
		 * tombstone when none), locks it, and carries out the state machine's decision — release
		 * every live reservation of a completed order, move the record, answer `order.compensated`
		 * through the outbox. A second cancellation of the same order changes and sends nothing.
		 */
		async compensateOrder(event: OrderCancelledEvent): Promise<void> {
			const context = { orderId: event.orderId, correlationId: event.correlationId, eventId: event.eventId, cause: event.cause };
			const db: Sequelize = this.db();

			const outcome = await this.transaction(
				async (t: Transaction): Promise<{ decision: CompensateDecision | IgnoreDecision; released: ReleasedLine[] }> => {
					const tombstone = await insertRecord(
						db,
						{ orderId: event.orderId, eventId: event.eventId, correlationId: event.correlationId, status: ProcessingStatus.Cancelled },
						t
					);
					const record = tombstone ? null : await lockRecord(db, t, event.orderId);
					const decision = decideProcessing(record, Events.OrderCancelled);
					const before = record?.status ?? ProcessingStatus.Cancelled;
					const why = { cause: event.cause, ...(event.reason === undefined ? {} : { reason: event.reason }) };
					if (decision.action === "ignore") {
						await this.recordStep(t, event, { step: decision.step, status: before, eventId: event.eventId, detail: { because: decision.because, ...why } });
						return { decision, released: [] };
					}
					await this.recordStep(t, event, { step: HistorySteps.CancelledReceived, status: before, eventId: event.eventId, detail: why });

					const released = decision.release ? await releaseStock(db, t, event.orderId, event.eventId) : [];
					await markCancelled(db, t, event.orderId, decision.next);
					const answer = orderCompensatedEvent(event.orderId, event.correlationId, event.cause, released, randomUUID(), new Date());
					await this.enqueueEvent(t, Events.OrderCompensated, ConsumerGroups[Events.OrderCompensated], answer, {
						correlationId: event.correlationId
					});
					await this.recordStep(t, event, {
						step: decision.step,
						status: decision.next,
						eventId: answer.eventId,
						detail: decision.release ? { released, ...why } : why
					});
					return { decision, released };
				}
			);

			const { decision, released } = outcome;
			if (decision.action === "compensate" && decision.release) recordStockReservation(this.broker, "released");
			if (decision.action === "ignore") {
				this.logger.info("Duplicate 'order.cancelled' event ignored: the order's cancellation was already handled.", context);
			} else if (decision.release) {
				this.logger.info(`Order compensated: ${released.length} stock line(s) released.`, { ...context, released });
			} else if (decision.next === ProcessingStatus.Failed) {
				this.logger.info("Cancellation of a failed order: nothing to release.", context);
			} else {
				this.logger.info("Order cancelled before it was processed: nothing will be reserved for it.", context);
			}
		},

		/** Adds a step to the order's history, in the transaction of the change it describes. */
		async recordStep(t, event, step): Promise<void> {
			await appendStep(sqlOf(t), {
				...step,
				orderId: event.orderId,
				correlationId: event.correlationId,
				nodeID: this.broker.nodeID
			});
		},

		/** Reads one SKU's stock or throws a 404. */
		async readStock(sku: string): Promise<StockView> {
			const stock = await findStock(this.db(), sku);
			if (!stock) throw new SkuNotFoundError(sku);
			return stock;
		},

		/** Fills an empty stock table with the demo catalogue; a table with any row is left alone. */
		async seedDemoStock(): Promise<void> {
			const stocked = await stockEmptyCatalogue(this.db(), demoCatalogue());
			if (stocked > 0) this.logger.info(`Demo catalogue stocked: ${stocked} SKUs.`);
		}
	},

	created() {
		this.newOrders = new Batcher<OrderCreatedEvent, NewOrderOutcome>({
			runBatch: events => this.handleNewOrders(events),
			runOne: async event => (await this.handleNewOrders([event]))[0],
			maxBatch: this.settings.batchSize ?? DEFAULT_PROCESSOR_BATCH_SIZE,
			onSplit: (err, size) =>
				this.logger.warn(`A batch of ${size} 'order.created' events failed; they are handled one by one.`, { error: err.message })
		});
	},

	/** moleculer-db calls this once the database is connected and migrated. */
	async afterConnected() {
		if (this.settings.demoStock) await this.seedDemoStock();
	}
};

export default ProcessorService;
