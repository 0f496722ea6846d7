import { DataTypes, type Model, type ModelStatic, type Sequelize } from "sequelize";
import type { OrderItem } from "../../lib/contracts/events";
import type { OrderStatus, OrderView } from "../../lib/contracts/orders";

/** A row of `orders` as Sequelize returns it. */
export interface OrderRow {
	id: string;
	customerId: string;
	items: OrderItem[];
	totalAmount: string | number;
	currency: string;
	status: OrderStatus;
	errorMessage: string | null;
	correlationId: string;
	idempotencyKey: string | null;
	/** Whose key `idempotencyKey` is: the caller's `sub`, '' for a call from inside the cluster. */
	idempotencyScope: string | null;
	requestHash: string | null;
	createdAt: Date;
	updatedAt: Date;
}

export type OrderModel = ModelStatic<Model<OrderRow>>;

/** Maps the `orders` table (its schema comes from the migrations). */
export function defineOrderModel(sequelize: Sequelize): OrderModel {
	return sequelize.define<Model<OrderRow>>(
		"Order",
		{
			id: { type: DataTypes.UUID, primaryKey: true },
			customerId: { type: DataTypes.STRING, field: "customer_id" },
			items: { type: DataTypes.JSONB },
			totalAmount: { type: DataTypes.DECIMAL(16, 2), field: "total_amount" },
			currency: { type: DataTypes.STRING(3) },
			status: { type: DataTypes.STRING(20) },
			errorMessage: { type: DataTypes.TEXT, field: "error_message" },
			correlationId: { type: DataTypes.STRING, field: "correlation_id" },
			idempotencyKey: { type: DataTypes.STRING, field: "idempotency_key" },
			idempotencyScope: { type: DataTypes.STRING, field: "idempotency_scope" },
			requestHash: { type: DataTypes.STRING(64), field: "request_hash" },
			createdAt: { type: DataTypes.DATE, field: "created_at" },
			updatedAt: { type: DataTypes.DATE, field: "updated_at" }
		},
		{ tableName: "orders", timestamps: true, underscored: true }
	);
}

/** The API's view of a row: plain JSON, amounts as numbers, no internal columns. */
export function toOrderView(row: OrderRow): OrderView {
	return {
		id: row.id,
		customerId: row.customerId,
		items: row.items,
		totalAmount: Number(row.totalAmount),
		currency: row.currency,
		status: row.status,
		errorMessage: row.errorMessage,
		correlationId: row.correlationId,
		createdAt: new Date(row.createdAt).toISOString(),
		updatedAt: new Date(row.updatedAt).toISOString()
	};
}
