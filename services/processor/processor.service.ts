import { randomUUID } from "node:crypto";
import type { Context } from "moleculer";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { ConsumerGroups, Events, orderCreatedSchema, type OrderCreatedEvent } from "../../lib/contracts/events";
import { createDbMixin, type DbMethods, type DbServiceSchema, type DbSettings, type DbVars } from "../../mixins/db.mixin";
import { OutboxMixin, type OutboxMethods, type OutboxSettings, type OutboxVars } from "../../mixins/outbox.mixin";
import {
	ProcessingStatus,
	demoCatalogue,
	isTerminal,
	orderProcessedEvent,
	planReservation,
	type StockLevel
} from "./processor.domain";
import { FaultPoints, hitFaultPoint } from "../../lib/fault-points";
import { SkuNotFoundError } from "./processor.errors";
import { processorMigrations } from "./processor.migrations";
import { defineProcessingRecordModel, type ProcessingRecordModel } from "./processor.model";

/** Settings of the processor: its database's, its outbox's, and the demo stock switch. */
export interface ProcessorSettings extends DbSettings, OutboxSettings {
	/** Fill an empty stock table with the demo catalogue on start. */
	demoStock: boolean;
}

/** One SKU's stock, as the stock actions answer it. */
export interface StockView {
	sku: string;
	available: number;
	reserved: number;
}

/** The methods of the processor, with those of its mixins. */
export interface ProcessorMethods extends DbMethods, OutboxMethods {
	processOrder(event: OrderCreatedEvent): Promise<void>;
	readStock(sku: string): Promise<StockView>;
	seedDemoStock(): Promise<void>;
}

/** What the processor keeps on its instance: only what its mixins keep. */
export interface ProcessorVars extends DbVars<ProcessingRecordModel>, OutboxVars {}

const skuParam = { type: "string", minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$" } as const;

const ProcessorService: DbServiceSchema<ProcessorSettings, ProcessorMethods, ProcessorVars> = {
	name: "processor",

	// The outbox comes first: see the orders service.
	mixins: [
		OutboxMixin,
		createDbMixin({
			migrations: processorMigrations,
			defineModels: defineProcessingRecordModel,
			embeddedDataDir: "./data/processor"
		})
	],

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/** Returns one SKU's stock. */
		getStock: {
			params: { type: "object", required: ["sku"], properties: { sku: skuParam } },
			async handler(ctx: Context<{ sku: string }>): Promise<StockView> {
				return this.readStock(ctx.params.sku);
			}
		},

		/** Sets one SKU's available units (creating the SKU when it is new). */
		setStock: {
			params: {
				type: "object",
				required: ["sku", "available"],
				additionalProperties: false,
				properties: { sku: skuParam, available: { type: "integer", minimum: 0, maximum: 2_000_000_000 } }
			},
			async handler(ctx: Context<{ sku: string; available: number }>): Promise<StockView> {
				await this.db().query(
					`INSERT INTO stock (sku, available, reserved, updated_at) VALUES (:sku, :available, 0, now())
					 ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available, updated_at = now()`,
					{ replacements: ctx.params }
				);
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
		}
	},

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Walks the order's record `PENDING → PROCESSING → COMPLETED | FAILED`. Each step commits on
		 * its own, and each is a no-op when a previous delivery already made it, so a redelivery after
		 * a crash resumes where the first one stopped and a duplicate changes nothing.
		 */
		async processOrder(event: OrderCreatedEvent): Promise<void> {
			const context = { orderId: event.orderId, correlationId: event.correlationId, eventId: event.eventId };
			const db: Sequelize = this.db();
			const now = new Date();

			await db.query(
				`INSERT INTO processing_records (id, order_id, event_id, status, correlation_id, created_at, updated_at)
				 VALUES (:id, :orderId, :eventId, :status, :correlationId, :now, :now)
				 ON CONFLICT (order_id) DO NOTHING`,
				{
					replacements: {
						id: randomUUID(),
						orderId: event.orderId,
						eventId: event.eventId,
						status: ProcessingStatus.Pending,
						correlationId: event.correlationId,
						now
					}
				}
			);
			await db.query(
				`UPDATE processing_records SET status = :next, updated_at = now() WHERE order_id = :orderId AND status = :from`,
				{ replacements: { orderId: event.orderId, from: ProcessingStatus.Pending, next: ProcessingStatus.Processing } }
			);

			const outcome = await this.transaction(async (t: Transaction) => {
				const [record] = await db.query<{ status: ProcessingStatus }>(
					"SELECT status FROM processing_records WHERE order_id = :orderId FOR UPDATE",
					{ type: QueryTypes.SELECT, transaction: t, replacements: { orderId: event.orderId } }
				);
				if (!record || isTerminal(record.status)) return null;

				const skus = [...new Set(event.items.map(i => i.sku))].sort();
				// Rows are locked in SKU order so that concurrent orders never deadlock each other.
				const stock = await db.query<StockLevel>(
					"SELECT sku, available FROM stock WHERE sku IN (:skus) ORDER BY sku FOR UPDATE",
					{ type: QueryTypes.SELECT, transaction: t, replacements: { skus } }
				);
				const plan = planReservation(event.items, stock);
				if (plan.ok) {
					for (const line of plan.lines) {
						await db.query(
							`UPDATE stock SET available = available - :quantity, reserved = reserved + :quantity, updated_at = now()
							 WHERE sku = :sku`,
							{ transaction: t, replacements: { ...line } }
						);
						await db.query(
							"INSERT INTO stock_reservations (order_id, sku, quantity) VALUES (:orderId, :sku, :quantity)",
							{ transaction: t, replacements: { orderId: event.orderId, ...line } }
						);
					}
				}
				await db.query(
					`UPDATE processing_records SET status = :status, error_message = :errorMessage, updated_at = now()
					 WHERE order_id = :orderId`,
					{
						transaction: t,
						replacements: {
							orderId: event.orderId,
							status: plan.ok ? ProcessingStatus.Completed : ProcessingStatus.Failed,
							errorMessage: plan.ok ? null : plan.reason
						}
					}
				);
				await this.enqueueEvent(
					t,
					Events.OrderProcessed,
					ConsumerGroups[Events.OrderProcessed],
					orderProcessedEvent(event.orderId, event.correlationId, plan, randomUUID(), new Date()),
					{ correlationId: event.correlationId }
				);
				return plan;
			});

			hitFaultPoint(this.settings.faultPoints, FaultPoints.ProcessorAfterCommit);
			if (!outcome) {
				this.logger.info("Duplicate 'order.created' event ignored: the order was already processed.", context);
			} else if (outcome.ok) {
				this.logger.info("Order processed: stock reserved.", context);
			} else {
				this.logger.info(`Order rejected: ${outcome.reason}`, context);
			}
		},

		/** Reads one SKU's stock or throws a 404. */
		async readStock(sku: string): Promise<StockView> {
			const db: Sequelize = this.db();
			const [row] = await db.query<StockView>(
				"SELECT sku, available, reserved FROM stock WHERE sku = :sku",
				{ type: QueryTypes.SELECT, replacements: { sku } }
			);
			if (!row) throw new SkuNotFoundError(sku);
			return { sku: row.sku, available: Number(row.available), reserved: Number(row.reserved) };
		},

		/** Fills an empty stock table with the demo catalogue; a table with any row is left alone. */
		async seedDemoStock(): Promise<void> {
			const catalogue = demoCatalogue();
			const db: Sequelize = this.db();
			const inserted = await db.query(
				`INSERT INTO stock (sku, available, reserved, updated_at)
				 SELECT sku, available, 0, now() FROM json_to_recordset(:rows) AS r(sku text, available integer)
				 WHERE NOT EXISTS (SELECT 1 FROM stock)
				 RETURNING sku`,
				{ type: QueryTypes.SELECT, replacements: { rows: JSON.stringify(catalogue) } }
			);
			if (inserted.length > 0) this.logger.info(`Demo catalogue stocked: ${inserted.length} SKUs.`);
		}
	},

	/** moleculer-db calls this once the database is connected and migrated. */
	async afterConnected() {
		if (this.settings.demoStock) await this.seedDemoStock();
	}
};

export default ProcessorService;
