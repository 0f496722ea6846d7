import { DataTypes, Op, type QueryInterface } from "sequelize";
import { historyTableMigration } from "../../lib/database/history-table";
import type { Migration } from "../../lib/database/migrator";
import { outboxFailuresMigration, outboxMigration, outboxReplaysMigration, outboxTraceContextMigration, outboxAutovacuumMigration, outboxClaimFunctionMigration, outboxSentAtIndexMigration, outboxClaimPlannerMigration } from "../../mixins/outbox.migrations";
import { hotTableStatisticsMigration } from "../../lib/database/hot-table-statistics";

/** The orders database, in order of application. Never edit an applied migration: add one. */
export const ordersMigrations: Migration[] = [
	outboxMigration,
	{
		name: "001-create-orders",
		async up(qi: QueryInterface) {
			await qi.createTable("orders", {
				id: { type: DataTypes.UUID, primaryKey: true },
				customer_id: { type: DataTypes.STRING(100), allowNull: false },
				items: { type: DataTypes.JSONB, allowNull: false },
				total_amount: { type: DataTypes.DECIMAL(14, 2), allowNull: false },
				currency: { type: DataTypes.STRING(3), allowNull: false },
				status: { type: DataTypes.STRING(20), allowNull: false },
				error_message: { type: DataTypes.TEXT, allowNull: true },
				correlation_id: { type: DataTypes.STRING(200), allowNull: false },
				idempotency_key: { type: DataTypes.STRING(200), allowNull: true, unique: true },
				request_hash: { type: DataTypes.STRING(64), allowNull: true },
				created_at: { type: DataTypes.DATE, allowNull: false },
				updated_at: { type: DataTypes.DATE, allowNull: false }
			});
			await qi.addIndex("orders", ["status", "created_at"]);
			await qi.addIndex("orders", ["customer_id", "created_at"]);
		},
		async down(qi: QueryInterface) {
			await qi.dropTable("orders");
		}
	},
	{
		name: "002-create-processed-events",
		async up(qi: QueryInterface) {
			// The inbox: one row per consumed event id, so a redelivered event changes nothing twice.
			await qi.createTable("processed_events", {
				event_id: { type: DataTypes.STRING(100), primaryKey: true },
				event_name: { type: DataTypes.STRING(100), allowNull: false },
				order_id: { type: DataTypes.UUID, allowNull: false },
				processed_at: { type: DataTypes.DATE, allowNull: false, defaultValue: qi.sequelize.literal("now()") }
			});
		},
		async down(qi: QueryInterface) {
			await qi.dropTable("processed_events");
		}
	},
	outboxFailuresMigration,
	{
		name: "003-widen-total-amount",
		async up(qi: QueryInterface) {
			// Room for the largest order the API accepts (OrderLimits in lib/contracts/events.ts).
			await qi.changeColumn("orders", "total_amount", { type: DataTypes.DECIMAL(16, 2), allowNull: false });
		},
		async down(qi: QueryInterface) {
			await qi.changeColumn("orders", "total_amount", { type: DataTypes.DECIMAL(14, 2), allowNull: false });
		}
	},
	outboxReplaysMigration,
	historyTableMigration("004-create-order-history", "order_history"),
	{
		name: "005-scope-idempotency-keys",
		async up(qi: QueryInterface) {
			// An Idempotency-Key is unique per caller (its `sub`; '' for a call from inside the
			// cluster), no longer across everyone: two customers may pick the same key.
			await qi.addColumn("orders", "idempotency_scope", { type: DataTypes.STRING(200), allowNull: true });
			// The keys so far were sent on behalf of the order's customer, who is the only caller
			// that can send that request again now (an admin's order for someone else is
			// indistinguishable; at worst its retry within the key's lifetime makes a second order).
			await qi.sequelize.query("UPDATE orders SET idempotency_scope = customer_id WHERE idempotency_key IS NOT NULL");
			await qi.removeConstraint("orders", "orders_idempotency_key_key");
			await qi.addIndex("orders", ["idempotency_scope", "idempotency_key"], { name: "orders_idempotency_scope_key", unique: true });
		},
		async down(qi: QueryInterface) {
			await qi.removeIndex("orders", "orders_idempotency_scope_key");
			await qi.addConstraint("orders", { type: "unique", fields: ["idempotency_key"], name: "orders_idempotency_key_key" });
			await qi.removeColumn("orders", "idempotency_scope");
		}
	},
	{
		name: "006-index-idempotency-key-expiry",
		async up(qi: QueryInterface) {
			// For the periodic prune of expired keys: the orders that still have a key, by age.
			await qi.addIndex("orders", ["created_at"], { name: "orders_idempotency_key_created_at", where: { idempotency_key: { [Op.ne]: null } } });
		},
		async down(qi: QueryInterface) {
			await qi.removeIndex("orders", "orders_idempotency_key_created_at");
		}
	},
	outboxTraceContextMigration,
	outboxAutovacuumMigration,
	outboxClaimFunctionMigration,
	{
		name: "007-index-processed-events-age",
		async up(qi: QueryInterface) {
			// For the once-a-minute prune of the inbox by age (without it the prune read the whole table).
			await qi.addIndex("processed_events", ["processed_at"], { name: "processed_events_processed_at" });
		},
		async down(qi: QueryInterface) {
			await qi.removeIndex("processed_events", "processed_events_processed_at");
		}
	},
	outboxSentAtIndexMigration,
	hotTableStatisticsMigration("008-hot-table-statistics", ["orders", "processed_events"]),
	outboxClaimPlannerMigration
];
