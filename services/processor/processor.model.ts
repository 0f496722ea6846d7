import { DataTypes, type Model, type ModelStatic, type Sequelize } from "sequelize";
import type { ProcessingStatus } from "./processor.domain";

/** A row of `processing_records`. */
export interface ProcessingRecordRow {
	id: string;
	orderId: string;
	eventId: string;
	status: ProcessingStatus;
	errorMessage: string | null;
	correlationId: string;
	/** When a cancellation of the order was handled; null while none was. */
	cancelledAt: Date | null;
	createdAt: Date;
	updatedAt: Date;
}

export type ProcessingRecordModel = ModelStatic<Model<ProcessingRecordRow>>;

/** Maps `processing_records` (its schema comes from the migrations). */
export function defineProcessingRecordModel(sequelize: Sequelize): ProcessingRecordModel {
	return sequelize.define<Model<ProcessingRecordRow>>(
		"ProcessingRecord",
		{
			id: { type: DataTypes.UUID, primaryKey: true },
			orderId: { type: DataTypes.UUID, field: "order_id" },
			eventId: { type: DataTypes.STRING, field: "event_id" },
			status: { type: DataTypes.STRING(20) },
			errorMessage: { type: DataTypes.TEXT, field: "error_message" },
			correlationId: { type: DataTypes.STRING, field: "correlation_id" },
			cancelledAt: { type: DataTypes.DATE, field: "cancelled_at" },
			createdAt: { type: DataTypes.DATE, field: "created_at" },
			updatedAt: { type: DataTypes.DATE, field: "updated_at" }
		},
		{ tableName: "processing_records", timestamps: true, underscored: true }
	);
}
