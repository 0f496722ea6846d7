/**
 * Outbox rows whose handler failed for good (one process, no transporter), seen and worked on as
 * dead letters: listed, replayed (made publishable again) and purged. Data access only; the outbox
 * mixin's actions call these.
 */
import { QueryTypes, type Sequelize } from "sequelize";
import { plainText } from "../lib/contracts/text";
import {
	oldestFirst,
	outboxDeadLetterId,
	parseOutboxDeadLetterId,
	type DeadLetterFilter,
	type DeadLetterView
} from "../lib/contracts/dead-letters";

/** A failed outbox row, as the queries below return it. */
interface FailedRow {
	id: string;
	event_name: string;
	consumer_group: string;
	payload: Record<string, unknown>;
	meta: Record<string, unknown> | null;
	attempts: number;
	replays: number;
	last_error: string | null;
	last_error_name: string | null;
	failed_at: Date | string | null;
}

const COLUMNS = "id, event_name, consumer_group, payload, meta, attempts, replays, last_error, last_error_name, failed_at";

/** JSON Schema of a filter the outbox actions accept (any event name: the outbox holds any). */
export const failedEventsFilterProperties = {
	id: plainText(100),
	event: plainText(100),
	orderId: plainText(100),
	errorContains: plainText(200)
} as const;

function text(value: unknown): string | null {
	return typeof value === "string" ? value : null;
}

/** One failed row of `service`'s outbox as a dead letter. */
export function toFailedEventView(service: string, row: FailedRow): DeadLetterView {
	return {
		id: outboxDeadLetterId(service, row.id),
		event: row.event_name,
		group: row.consumer_group,
		queue: `outbox:${service}`,
		attempts: Number(row.attempts),
		replays: Number(row.replays),
		error: row.last_error,
		errorName: row.last_error_name,
		deadLetteredAt: row.failed_at ? new Date(row.failed_at).toISOString() : null,
		orderId: text(row.payload?.orderId),
		correlationId: text(row.payload?.correlationId) ?? text(row.meta?.correlationId),
		payload: row.payload
	};
}

/** The condition selecting the failed rows a filter names; `null` when it names none in this outbox. */
function whereFailed(service: string, filter: DeadLetterFilter): { where: string; replacements: Record<string, unknown> } | null {
	const conditions = ["failed_at IS NOT NULL"];
	const replacements: Record<string, unknown> = {};
	if (filter.id) {
		const parsed = parseOutboxDeadLetterId(filter.id);
		if (!parsed || parsed.service !== service) return null;
		conditions.push("id = :rowId");
		replacements.rowId = parsed.rowId;
	}
	if (filter.event) {
		conditions.push("event_name = :event");
		replacements.event = filter.event;
	}
	if (filter.orderId) {
		conditions.push("payload->>'orderId' = :orderId");
		replacements.orderId = filter.orderId;
	}
	if (filter.errorContains) {
		// strpos, not LIKE: the operator's text is matched as typed, '%' and '_' included.
		conditions.push("strpos(lower(coalesce(last_error, '')), lower(:errorContains)) > 0");
		replacements.errorContains = filter.errorContains;
	}
	return { where: conditions.join(" AND "), replacements };
}

/** Failed events of `service`'s outbox matching the filter, oldest first. */
export async function listFailedEvents(db: Sequelize, service: string, filter: DeadLetterFilter, limit: number): Promise<DeadLetterView[]> {
	const selection = whereFailed(service, filter);
	if (!selection) return [];
	const rows = await db.query<FailedRow>(
		`SELECT ${COLUMNS} FROM outbox_events WHERE ${selection.where} ORDER BY failed_at, id LIMIT :limit`,
		{ type: QueryTypes.SELECT, replacements: { ...selection.replacements, limit } }
	);
	return rows.map(row => toFailedEventView(service, row));
}

/**
 * Makes the matching failed events publishable again; returns them as they were. The replayed run
 * gets the full retry budget again (`prior_attempts` remembers the runs so far), while `attempts`
 * keeps counting every run.
 */
export async function replayFailedEvents(db: Sequelize, service: string, filter: DeadLetterFilter): Promise<DeadLetterView[]> {
	const selection = whereFailed(service, filter);
	if (!selection) return [];
	const rows = await db.query<FailedRow>(
		`WITH taken AS (SELECT ${COLUMNS} FROM outbox_events WHERE ${selection.where} FOR UPDATE)
		 UPDATE outbox_events o SET failed_at = NULL, claimed_until = NULL, prior_attempts = o.attempts, replays = o.replays + 1
		 FROM taken WHERE o.id = taken.id
		 RETURNING ${COLUMNS.split(", ").map(c => `taken.${c}`).join(", ")}`,
		{ type: QueryTypes.SELECT, replacements: selection.replacements }
	);
	return rows.map(row => toFailedEventView(service, row)).sort(oldestFirst);
}

/** Deletes the matching failed events; returns them. */
export async function purgeFailedEvents(db: Sequelize, service: string, filter: DeadLetterFilter): Promise<DeadLetterView[]> {
	const selection = whereFailed(service, filter);
	if (!selection) return [];
	const rows = await db.query<FailedRow>(`DELETE FROM outbox_events WHERE ${selection.where} RETURNING ${COLUMNS}`, {
		type: QueryTypes.SELECT,
		replacements: selection.replacements
	});
	return rows.map(row => toFailedEventView(service, row)).sort(oldestFirst);
}
