/**
 * An order's history as each service keeps it: one table per service (`order_history`,
 * `processing_history`) of the same shape, written in the transaction of the change a step
 * describes and read back oldest first. `orders.history` merges the two.
 */
import { DataTypes, QueryTypes, type QueryInterface, type Sequelize, type Transaction } from "sequelize";
import type { HistoryEntry, HistoryTimes } from "../contracts/history";
import type { Migration } from "./migrator";
import { statement, type SqlTransaction } from "./sql";

/** The history tables, one per service. */
export type HistoryTable = "order_history" | "processing_history";

/** One step to add to an order's history (`at` is the transaction's time). */
export interface HistoryStep {
	orderId: string;
	step: string;
	status: string;
	eventId?: string | null;
	correlationId?: string | null;
	nodeID: string;
	detail?: Record<string, unknown> | null;
}

interface HistoryRow {
	at: Date;
	step: string;
	status: string;
	event_id: string | null;
	correlation_id: string | null;
	node_id: string;
	detail: Record<string, unknown> | null;
}

/** The migration that creates a service's history table (named as the service's migration list has it). */
export function historyTableMigration(name: string, table: HistoryTable): Migration {
	return {
		name,
		async up(qi: QueryInterface) {
			await qi.createTable(table, {
				id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
				order_id: { type: DataTypes.UUID, allowNull: false },
				at: { type: DataTypes.DATE, allowNull: false, defaultValue: qi.sequelize.literal("now()") },
				step: { type: DataTypes.TEXT, allowNull: false },
				status: { type: DataTypes.TEXT, allowNull: false },
				event_id: { type: DataTypes.TEXT, allowNull: true },
				correlation_id: { type: DataTypes.TEXT, allowNull: true },
				node_id: { type: DataTypes.TEXT, allowNull: false },
				detail: { type: DataTypes.JSONB, allowNull: true }
			});
			await qi.addIndex(table, ["order_id", "id"], { name: `${table}_order_id_id` });
		},
		async down(qi: QueryInterface) {
			await qi.dropTable(table);
		}
	};
}

/** Adds steps to the history of their orders, in the caller's transaction (one statement). */
export async function appendHistory(db: Sequelize, t: Transaction, table: HistoryTable, steps: HistoryStep[]): Promise<void> {
	if (steps.length === 0) return;
	const values: string[] = [];
	const replacements: Record<string, unknown> = {};
	steps.forEach((s, i) => {
		values.push(`(:orderId${i}, :step${i}, :status${i}, :eventId${i}, :correlationId${i}, :nodeID${i}, CAST(:detail${i} AS jsonb))`);
		Object.assign(replacements, {
			[`orderId${i}`]: s.orderId,
			[`step${i}`]: s.step,
			[`status${i}`]: s.status,
			[`eventId${i}`]: s.eventId ?? null,
			[`correlationId${i}`]: s.correlationId ?? null,
			[`nodeID${i}`]: s.nodeID,
			[`detail${i}`]: s.detail ? JSON.stringify(s.detail) : null
		});
	});
	await db.query(`INSERT INTO ${table} (order_id, step, status, event_id, correlation_id, node_id, detail) VALUES ${values.join(", ")}`, {
		transaction: t,
		replacements
	});
}

/** Which entries of a history to read: `limit` of them from position `offset`, in recorded order. */
export interface HistoryWindow {
	offset: number;
	limit: number;
}

/** One service's history of one order, in the order it was recorded: the entries of `window` only. */
export async function readHistory(
	db: Sequelize,
	table: HistoryTable,
	service: HistoryEntry["service"],
	orderId: string,
	window: HistoryWindow
): Promise<HistoryEntry[]> {
	const rows = await db.query<HistoryRow>(
		`SELECT at, step, status, event_id, correlation_id, node_id, detail FROM ${table} WHERE order_id = :orderId ORDER BY id OFFSET :offset LIMIT :limit`,
		{ type: QueryTypes.SELECT, replacements: { orderId, offset: window.offset, limit: window.limit } }
	);
	return rows.map(row => ({
		at: new Date(row.at).toISOString(),
		service,
		step: row.step,
		status: row.status,
		eventId: row.event_id,
		correlationId: row.correlation_id,
		nodeID: row.node_id,
		detail: row.detail
	}));
}

/**
 * The times (milliseconds since the epoch, as the entries' `at` shows them) of the first `limit`
 * entries of one service's history of an order, in recorded order, and how many entries it has:
 * enough to merge two histories without reading their rows.
 */
export async function readHistoryTimes(db: Sequelize, table: HistoryTable, orderId: string, limit: number): Promise<HistoryTimes> {
	const [rows, [{ total }]] = await Promise.all([
		db.query<{ ms: number }>(
			`SELECT floor(extract(epoch FROM at) * 1000)::float8 AS ms FROM ${table} WHERE order_id = :orderId ORDER BY id LIMIT :limit`,
			{ type: QueryTypes.SELECT, replacements: { orderId, limit } }
		),
		db.query<{ total: number }>(`SELECT count(*)::int AS total FROM ${table} WHERE order_id = :orderId`, {
			type: QueryTypes.SELECT,
			replacements: { orderId }
		})
	]);
	return { times: rows.map(row => Number(row.ms)), total };
}

/** One step, as a prepared statement per table (the hot path's history writes). */
const appendStepStatements: Record<HistoryTable, ReturnType<typeof statement>> = {
	order_history: appendStepStatement("order_history"),
	processing_history: appendStepStatement("processing_history")
};

function appendStepStatement(table: HistoryTable) {
	return statement(
		`${table}.append-step`,
		`INSERT INTO ${table} (order_id, step, status, event_id, correlation_id, node_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	);
}

/** Adds one step to its order's history, in the transaction `tx` (a prepared statement). */
export async function appendHistoryStep(tx: SqlTransaction, table: HistoryTable, step: HistoryStep): Promise<void> {
	await tx.query(appendStepStatements[table], [
		step.orderId,
		step.step,
		step.status,
		step.eventId ?? null,
		step.correlationId ?? null,
		step.nodeID,
		step.detail ? JSON.stringify(step.detail) : null
	]);
}
