import { DataTypes, type QueryInterface } from "sequelize";
import { historyTableMigration } from "../../lib/database/history-table";
import type { Migration } from "../../lib/database/migrator";
import { outboxFailuresMigration, outboxMigration, outboxReplaysMigration, outboxTraceContextMigration, outboxAutovacuumMigration, outboxClaimFunctionMigration, outboxSentAtIndexMigration, outboxClaimPlannerMigration } from "../../mixins/outbox.migrations";
import { hotTableStatisticsMigration } from "../../lib/database/hot-table-statistics";

/** The processor database, in order of application. Never edit an applied migration: add one. */
export const processorMigrations: Migration[] = [
	outboxMigration,
	{
		name: "001-create-processing-records",
		async up(qi: QueryInterface) {
			await qi.createTable("processing_records", {
				id: { type: DataTypes.UUID, primaryKey: true },
				order_id: { type: DataTypes.UUID, allowNull: false },
				event_id: { type: DataTypes.STRING(100), allowNull: false },
				status: { type: DataTypes.STRING(20), allowNull: false },
				error_message: { type: DataTypes.TEXT, allowNull: true },
				correlation_id: { type: DataTypes.STRING(200), allowNull: false },
				created_at: { type: DataTypes.DATE, allowNull: false },
				updated_at: { type: DataTypes.DATE, allowNull: false }
			});
			// One record per order, whatever the number of deliveries.
			await qi.addIndex("processing_records", ["order_id"], {
				unique: true,
				name: "processing_records_order_id_unique"
			});
		},
		async down(qi: QueryInterface) {
			await qi.dropTable("processing_records");
		}
	},
	{
		name: "002-create-stock",
		async up(qi: QueryInterface) {
			await qi.createTable("stock", {
				sku: { type: DataTypes.STRING(64), primaryKey: true },
				available: { type: DataTypes.INTEGER, allowNull: false },
				reserved: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
				updated_at: { type: DataTypes.DATE, allowNull: false, defaultValue: qi.sequelize.literal("now()") }
			});
			await qi.sequelize.query(
				"ALTER TABLE stock ADD CONSTRAINT stock_not_negative CHECK (available >= 0 AND reserved >= 0)"
			);
			await qi.createTable("stock_reservations", {
				order_id: { type: DataTypes.UUID, allowNull: false, primaryKey: true },
				sku: { type: DataTypes.STRING(64), allowNull: false, primaryKey: true },
				quantity: { type: DataTypes.INTEGER, allowNull: false },
				created_at: { type: DataTypes.DATE, allowNull: false, defaultValue: qi.sequelize.literal("now()") }
			});
		},
		async down(qi: QueryInterface) {
			await qi.dropTable("stock_reservations");
			await qi.dropTable("stock");
		}
	},
	outboxFailuresMigration,
	outboxReplaysMigration,
	{
		name: "003-stock-ledger",
		async up(qi: QueryInterface) {
			// Every reservation and every release is a row: the stock can be audited line by line.
			await qi.createTable("stock_movements", {
				id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
				order_id: { type: DataTypes.UUID, allowNull: false },
				sku: { type: DataTypes.STRING(64), allowNull: false },
				kind: { type: DataTypes.STRING(10), allowNull: false },
				quantity: { type: DataTypes.INTEGER, allowNull: false },
				event_id: { type: DataTypes.TEXT, allowNull: false },
				at: { type: DataTypes.DATE, allowNull: false, defaultValue: qi.sequelize.literal("now()") }
			});
			await qi.sequelize.query(
				"ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_kind CHECK (kind IN ('reserve', 'release') AND quantity > 0)"
			);
			await qi.addIndex("stock_movements", ["order_id"], { name: "stock_movements_order_id" });
			await qi.addIndex("stock_movements", ["sku"], { name: "stock_movements_sku" });
			// A reservation is live while `released_at` is null; a released one stays, for the audit.
			await qi.addColumn("stock_reservations", "released_at", { type: DataTypes.DATE, allowNull: true });
		},
		async down(qi: QueryInterface) {
			await qi.removeColumn("stock_reservations", "released_at");
			await qi.dropTable("stock_movements");
		}
	},
	historyTableMigration("004-processing-history", "processing_history"),
	{
		name: "005-processing-records-cancelled-at",
		async up(qi: QueryInterface) {
			// When the record's cancellation was handled: a failed record keeps its status, and this
			// is how a second cancellation of it is known as a duplicate.
			await qi.addColumn("processing_records", "cancelled_at", { type: DataTypes.DATE, allowNull: true });
		},
		async down(qi: QueryInterface) {
			await qi.removeColumn("processing_records", "cancelled_at");
		}
	},
	outboxTraceContextMigration,
	outboxAutovacuumMigration,
	outboxClaimFunctionMigration,
	outboxSentAtIndexMigration,
	hotTableStatisticsMigration("006-hot-table-statistics", ["processing_records"]),
	outboxClaimPlannerMigration
];
