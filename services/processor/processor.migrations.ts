import { DataTypes, type QueryInterface } from "sequelize";
import type { Migration } from "../../lib/database/migrator";
import { outboxFailuresMigration, outboxMigration, outboxReplaysMigration } from "../../mixins/outbox.migrations";

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
	outboxReplaysMigration
];
