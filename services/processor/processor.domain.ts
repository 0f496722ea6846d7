/**
 * The processor's rules, free of broker and database: how a processing record moves when an event
 * arrives, whether the stock can serve an order, and the events it answers with.
 */
import {
	EVENT_SCHEMA_VERSION,
	Events,
	type CancellationCause,
	type OrderCompensatedEvent,
	type OrderItem,
	type OrderProcessedEvent,
	type ReleasedLine
} from "../../lib/contracts/events";

export enum ProcessingStatus {
	Pending = "PENDING",
	Processing = "PROCESSING",
	Completed = "COMPLETED",
	Failed = "FAILED",
	/** The cancellation came before the order was processed: nothing is ever reserved for it. */
	Cancelled = "CANCELLED",
	/** The order's stock was reserved, then released by a cancellation. */
	Compensated = "COMPENSATED"
}

const NEXT: { readonly [S in ProcessingStatus]: readonly ProcessingStatus[] } = {
	[ProcessingStatus.Pending]: [ProcessingStatus.Processing, ProcessingStatus.Cancelled],
	[ProcessingStatus.Processing]: [ProcessingStatus.Completed, ProcessingStatus.Failed, ProcessingStatus.Cancelled],
	[ProcessingStatus.Completed]: [ProcessingStatus.Compensated],
	[ProcessingStatus.Failed]: [],
	[ProcessingStatus.Cancelled]: [],
	[ProcessingStatus.Compensated]: []
};

/**
 * True when a record may move from one status to the other: `PENDING → PROCESSING → COMPLETED |
 * FAILED`, an unfinished record to `CANCELLED`, a completed one to `COMPENSATED`.
 */
export function canAdvance(from: ProcessingStatus, to: ProcessingStatus): boolean {
	return NEXT[from].includes(to);
}

/** The events that move a processing record. */
export type ProcessorEventName = typeof Events.OrderCreated | typeof Events.OrderCancelled;

/** What the state machine needs to know of a record; `null` when the order has none yet. */
export interface RecordState {
	status: ProcessingStatus;
	/** A cancellation was handled already (a failed record keeps its status when cancelled). */
	cancellationHandled: boolean;
}

/** The steps of a record's history, as `processor.history` shows them. */
export const HistorySteps = {
	CreatedReceived: "order.created received",
	StockReserved: "stock reserved",
	Rejected: "rejected",
	CancelledReceived: "order.cancelled received",
	Compensated: "compensated",
	CancelledBeforeProcessing: "cancelled before processing",
	NothingToRelease: "nothing to release",
	CreatedIgnored: "order.created ignored",
	CancelledIgnored: "order.cancelled ignored"
} as const;
export type HistoryStep = (typeof HistorySteps)[keyof typeof HistorySteps];

/** Why an event changed nothing: it came again, or after a cancellation it can no longer undo. */
export type IgnoredBecause = "duplicate" | "late";

/**
 * What the service does with an event, decided by {@link decideProcessing}:
 * - `process`: reserve the order's stock, or fail it when the stock cannot serve it;
 * - `compensate`: release every live reservation when `release`, move the record to `next`, and
 *   answer `order.compensated` (with the released lines, or none);
 * - `ignore`: change nothing and send nothing; the event is only logged and recorded in history.
 */
export type ProcessingDecision = ProcessDecision | CompensateDecision | IgnoreDecision;

/** Reserve the order's stock, or fail the order. */
export interface ProcessDecision {
	readonly action: "process";
}

/** Undo (or never do) what was done for the order, and answer `order.compensated`. */
export interface CompensateDecision {
	readonly action: "compensate";
	readonly next: ProcessingStatus;
	readonly release: boolean;
	readonly step: HistoryStep;
}

/** Change nothing, send nothing. */
export interface IgnoreDecision {
	readonly action: "ignore";
	readonly because: IgnoredBecause;
	readonly step: HistoryStep;
}

/**
 * What moves a record: `order.created`, a first `order.cancelled`, or an `order.cancelled` of a
 * record whose cancellation was handled already (which its status alone cannot tell: a failed
 * record stays `FAILED` when cancelled).
 */
export const Triggers = {
	Created: Events.OrderCreated,
	Cancelled: Events.OrderCancelled,
	CancelledAgain: "order.cancelled again"
} as const;
export type Trigger = (typeof Triggers)[keyof typeof Triggers];

/** The decisions a trigger may get: `order.created` is processed or ignored, a cancellation compensated or ignored. */
interface RuleOf {
	[Triggers.Created]: ProcessDecision | IgnoreDecision;
	[Triggers.Cancelled]: CompensateDecision | IgnoreDecision;
	[Triggers.CancelledAgain]: IgnoreDecision;
}

const processOrder: ProcessDecision = { action: "process" };
const createdAgain: IgnoreDecision = { action: "ignore", because: "duplicate", step: HistorySteps.CreatedIgnored };
const createdLate: IgnoreDecision = { action: "ignore", because: "late", step: HistorySteps.CreatedIgnored };
const cancelledAgain: IgnoreDecision = { action: "ignore", because: "duplicate", step: HistorySteps.CancelledIgnored };
const cancelBeforeProcessing: CompensateDecision = {
	action: "compensate",
	next: ProcessingStatus.Cancelled,
	release: false,
	step: HistorySteps.CancelledBeforeProcessing
};

/**
 * The processor's state machine: one answer for every status and trigger, which the compiler checks
 * (a status or trigger added without its answers does not build). An answer that changes something
 * is never given twice for the same record, so an event that arrives twice, late or out of order
 * leaves the record as it was:
 * - `order.created`: processed when the record is unfinished (a crash mid-way), ignored when it is
 *   finished or cancelled (a cancellation tombstone is never processed);
 * - `order.cancelled`: an unfinished record becomes a `CANCELLED` tombstone, a completed one
 *   releases its stock and becomes `COMPENSATED`, a failed one stays `FAILED` (nothing was
 *   reserved); each answers `order.compensated` once; any later cancellation is a duplicate.
 */
export const TRANSITIONS: { readonly [S in ProcessingStatus]: { readonly [T in Trigger]: RuleOf[T] } } = {
	[ProcessingStatus.Pending]: {
		[Triggers.Created]: processOrder,
		[Triggers.Cancelled]: cancelBeforeProcessing,
		[Triggers.CancelledAgain]: cancelledAgain
	},
	[ProcessingStatus.Processing]: {
		[Triggers.Created]: processOrder,
		[Triggers.Cancelled]: cancelBeforeProcessing,
		[Triggers.CancelledAgain]: cancelledAgain
	},
	[ProcessingStatus.Completed]: {
		[Triggers.Created]: createdAgain,
		[Triggers.Cancelled]: { action: "compensate", next: ProcessingStatus.Compensated, release: true, step: HistorySteps.Compensated },
		[Triggers.CancelledAgain]: cancelledAgain
	},
	[ProcessingStatus.Failed]: {
		[Triggers.Created]: createdAgain,
		[Triggers.Cancelled]: { action: "compensate", next: ProcessingStatus.Failed, release: false, step: HistorySteps.NothingToRelease },
		[Triggers.CancelledAgain]: cancelledAgain
	},
	[ProcessingStatus.Cancelled]: {
		[Triggers.Created]: createdLate,
		[Triggers.Cancelled]: cancelledAgain,
		[Triggers.CancelledAgain]: cancelledAgain
	},
	[ProcessingStatus.Compensated]: {
		[Triggers.Created]: createdAgain,
		[Triggers.Cancelled]: cancelledAgain,
		[Triggers.CancelledAgain]: cancelledAgain
	}
};

/**
 * True once a record has its processing outcome: the statuses in which {@link TRANSITIONS} never
 * processes an `order.created` again.
 */
export function isTerminal(status: ProcessingStatus): boolean {
	return TRANSITIONS[status][Triggers.Created].action !== "process";
}

/** The trigger an event is for this record (a cancellation of a record already cancelled is its own trigger). */
function triggerOf(record: RecordState | null, event: ProcessorEventName): Trigger {
	if (event === Events.OrderCreated) return Triggers.Created;
	return record?.cancellationHandled ? Triggers.CancelledAgain : Triggers.Cancelled;
}

/**
 * The answer of {@link TRANSITIONS} to an event for a record; an order without a record yet is
 * answered as a `PENDING` one.
 */
export function decideProcessing(record: RecordState | null, event: typeof Events.OrderCreated): ProcessDecision | IgnoreDecision;
export function decideProcessing(record: RecordState | null, event: typeof Events.OrderCancelled): CompensateDecision | IgnoreDecision;
export function decideProcessing(record: RecordState | null, event: ProcessorEventName): ProcessingDecision;
export function decideProcessing(record: RecordState | null, event: ProcessorEventName): ProcessingDecision {
	return TRANSITIONS[record?.status ?? ProcessingStatus.Pending][triggerOf(record, event)];
}

export interface StockLevel {
	sku: string;
	available: number;
}

export interface ReservationLine {
	sku: string;
	quantity: number;
}

/** Why the stock cannot serve an order: a SKU it does not hold, or too few units of one. */
export type ReservationProblem = "unknown_sku" | "insufficient_stock";

export type ReservationPlan =
	| { ok: true; lines: ReservationLine[] }
	| { ok: false; problem: ReservationProblem; reason: string };

/**
 * Decides whether the stock can serve the items: every SKU must exist and have enough units
 * available (lines of the same SKU count together). Not serving is a business answer, not an error.
 */
export function planReservation(items: OrderItem[], stock: StockLevel[]): ReservationPlan {
	const wanted = new Map<string, number>();
	for (const item of items) wanted.set(item.sku, (wanted.get(item.sku) ?? 0) + item.quantity);
	const levels = new Map(stock.map(s => [s.sku, s.available]));

	const lines: ReservationLine[] = [];
	for (const [sku, quantity] of [...wanted.entries()].sort(([a], [b]) => a.localeCompare(b))) {
		const available = levels.get(sku);
		if (available === undefined) return { ok: false, problem: "unknown_sku", reason: `Unknown SKU '${sku}'.` };
		if (available < quantity) {
			return {
				ok: false,
				problem: "insufficient_stock",
				reason: `Insufficient stock for SKU '${sku}': requested ${quantity}, available ${available}.`
			};
		}
		lines.push({ sku, quantity });
	}
	return { ok: true, lines };
}

/** The `order.processed` answer for a finished record. */
export function orderProcessedEvent(
	orderId: string,
	correlationId: string,
	outcome: ReservationPlan,
	eventId: string,
	now: Date
): OrderProcessedEvent {
	return {
		eventId,
		version: EVENT_SCHEMA_VERSION,
		orderId,
		correlationId,
		status: outcome.ok ? "completed" : "failed",
		...(outcome.ok ? {} : { errorMessage: outcome.reason }),
		occurredAt: now.toISOString()
	};
}

/** The `order.compensated` answer to a cancellation: what was released (nothing, when nothing was reserved). */
export function orderCompensatedEvent(
	orderId: string,
	correlationId: string,
	cause: CancellationCause,
	released: ReleasedLine[],
	eventId: string,
	now: Date
): OrderCompensatedEvent {
	return { eventId, version: EVENT_SCHEMA_VERSION, orderId, correlationId, cause, released, occurredAt: now.toISOString() };
}

/** The demo catalogue a fresh database holds: SKU-0001 … SKU-0100, one million units each. */
export function demoCatalogue(count = 100, units = 1_000_000): StockLevel[] {
	return Array.from({ length: count }, (_, i) => ({ sku: `SKU-${String(i + 1).padStart(4, "0")}`, available: units }));
}
