/**
 * Dead letters as the admin API and the REPL show them, wherever they are kept: in RabbitMQ's
 * dead-letter queues (with a transporter) or in a service's outbox table, marked failed (in one
 * process). The dead-letter service and the outbox mixin both speak these types.
 */
import { ConsumerGroups } from "./events";
import { positiveIntegerParam } from "./numbers";
import { plainText } from "./text";

/** One dead letter. */
export interface DeadLetterView {
	/** A RabbitMQ message id, or `<service>-outbox-<row id>` for an outbox row. */
	id: string;
	event: string;
	group: string;
	/** The queue it came from, or `outbox:<service>` for an outbox row. */
	queue: string;
	/** Handler runs of this event in all, across replays. */
	attempts: number;
	/** How often it was replayed. */
	replays: number;
	error: string | null;
	errorName: string | null;
	deadLetteredAt: string | null;
	orderId: string | null;
	correlationId: string | null;
	/** The event's payload, or the raw text of a message that is not a Moleculer packet. */
	payload: unknown;
}

/** Which dead letters an operation works on; every given field must match. */
export interface DeadLetterFilter {
	id?: string;
	event?: string;
	orderId?: string;
	errorContains?: string;
}

/** JSON Schemas of the dead-letter service's params: a filter's fields. */
const filterProperties = {
	event: { enum: Object.keys(ConsumerGroups) },
	orderId: plainText(100),
	errorContains: plainText(200)
} as const;

/** Params of `deadLetters.replayAll` and `deadLetters.purgeAll`: a filter. */
export const deadLetterFilterSchema = { type: "object", additionalProperties: false, properties: filterProperties } as const;

/** Params of `deadLetters.list`: a filter and how many to show at most. */
export const listDeadLettersSchema = {
	type: "object",
	additionalProperties: false,
	properties: {
		...filterProperties,
		limit: positiveIntegerParam(1000, "Most dead letters to show: 100 unless given, 1000 at most.")
	}
} as const;

/** Params of `deadLetters.get`, `deadLetters.replay` and `deadLetters.purge`: one dead letter's id. */
export const deadLetterIdSchema = { type: "object", required: ["id"], properties: { id: plainText(100) } } as const;

/** Params of the outbox's `failedEvents` action. */
export type FailedEventsParams = DeadLetterFilter & { limit?: number };

/**
 * Actions a service with an outbox offers the dead-letter service (hidden from REST: the gateway
 * maps only the routes it lists).
 */
export const OutboxFailureActions = {
	/** Failed events as dead letters, oldest first: `FailedEventsParams` → `DeadLetterView[]`. */
	List: "failedEvents",
	/** Makes failed events publishable again: `DeadLetterFilter` → the views as they were. */
	Replay: "replayFailedEvents",
	/** Deletes failed events: `DeadLetterFilter` → the views as they were. */
	Purge: "purgeFailedEvents",
	/** Counts failed events by event and group: `{}` → `Array<{ event, group, count }>`. */
	Count: "countFailedEvents"
} as const;

/** The outbox action telling how far behind its relay is: `{}` → `{ pending, oldestPendingAgeSeconds }`. */
export const OUTBOX_LAG_ACTION = "outboxLag";

/** Orders dead letters oldest first (by when they were dead-lettered), then by id. */
export function oldestFirst(a: DeadLetterView, b: DeadLetterView): number {
	return (a.deadLetteredAt ?? "").localeCompare(b.deadLetteredAt ?? "") || a.id.localeCompare(b.id, "en", { numeric: true });
}

/** The id of an outbox row seen as a dead letter: unique across the services' outboxes. */
export function outboxDeadLetterId(service: string, rowId: string | number): string {
	return `${service}-outbox-${rowId}`;
}

/** The service and row of an outbox dead-letter id; `null` for any other id. */
export function parseOutboxDeadLetterId(id: string): { service: string; rowId: string } | null {
	const match = /^(.+)-outbox-([1-9][0-9]{0,18})$/.exec(id);
	return match ? { service: match[1], rowId: match[2] } : null;
}
