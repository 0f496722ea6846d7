/**
 * The rules of an order, free of broker, database and HTTP: what the services decide, and what the
 * unit tests hit hardest.
 */
import { createHash } from "node:crypto";
import {
	EVENT_SCHEMA_VERSION,
	Events,
	type CancellationCause,
	type OrderCancelledEvent,
	type OrderCreatedEvent,
	type OrderItem
} from "../../lib/contracts/events";
import type { HistoryEntry } from "../../lib/contracts/history";
import { OrderStatus, type CreateOrderParams } from "../../lib/contracts/orders";

/** Total of an order in currency units, summed in cents so that 0.1 + 0.2 stays 0.30. */
export function computeTotal(items: OrderItem[]): number {
	const cents = items.reduce((sum, item) => sum + Math.round(item.unitPrice * 100) * item.quantity, 0);
	return cents / 100;
}

/** A create request with its customer settled (named in the body, or the caller's own id). */
export type OrderRequest = CreateOrderParams & { customerId: string };

/**
 * A fingerprint of what a create request asks for, to tell a retried request (same key, same body)
 * from a reused key (same key, other body). Key order in the JSON does not matter, nor whether the
 * caller named itself as the customer or left it out.
 */
export function requestFingerprint(params: OrderRequest): string {
	const canonical = {
		customerId: params.customerId,
		currency: params.currency,
		items: params.items.map(i => ({ sku: i.sku, quantity: i.quantity, unitPrice: i.unitPrice }))
	};
	return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/** The steps the orders service writes into an order's history. */
export const HistorySteps = {
	Created: "created",
	ProcessedReceived: "order.processed received",
	ProcessedIgnored: "order.processed ignored",
	CancelRequested: "cancel requested",
	CompensatedReceived: "order.compensated received",
	CompensatedIgnored: "order.compensated ignored",
	Expired: "expired"
} as const;

/** What may happen to an order: an answer of the processor, a caller, the clock. */
export const OrderTriggers = {
	ProcessedCompleted: "processed-completed",
	ProcessedFailed: "processed-failed",
	CancelRequested: "cancel-requested",
	/** No answer came within ORDER_TIMEOUT_MS. */
	TimedOut: "expired",
	Compensated: "compensated"
} as const;

export type OrderTrigger = (typeof OrderTriggers)[keyof typeof OrderTriggers];

/** An event the service must queue (through the outbox) when it carries out a decision. */
export interface EmittedCancellation {
	event: typeof Events.OrderCancelled;
	cause: CancellationCause;
}

/**
 * What the state machine decided for one (status, trigger) pair; the service only carries it out.
 * - `apply`: move to `next` and queue `emit`;
 * - `unchanged`: nothing to do, and the caller is answered as if it worked (a repeated cancel);
 * - `ignore`: a late, repeated or out-of-order event: logged and recorded in history, never applied;
 * - `refuse`: the request cannot be honoured (a 409), `reason` says why.
 */
export type OrderDecision =
	| { outcome: "apply"; next: OrderStatus; emit: EmittedCancellation[] }
	| { outcome: "unchanged"; reason: string }
	| { outcome: "ignore"; reason: string }
	| { outcome: "refuse"; reason: string };

/** The part of an order the state machine looks at. */
export interface OrderState {
	id: string;
	status: OrderStatus;
	errorMessage: string | null;
}

const apply = (next: OrderStatus, ...causes: CancellationCause[]): OrderDecision => ({
	outcome: "apply",
	next,
	emit: causes.map(cause => ({ event: Events.OrderCancelled, cause }))
});
const ignore = (reason: string): OrderDecision => ({ outcome: "ignore", reason });
const unchanged = (reason: string): OrderDecision => ({ outcome: "unchanged", reason });

/** A rule of the state machine: its decision, or a function of the order for a decision that names it. */
type Rule = OrderDecision | ((order: OrderState) => OrderDecision);

const lateProcessingAnswer = (status: OrderStatus) => ignore(`the order is already ${status}: a late or repeated processing answer changes nothing`);
const notPendingToExpire = (status: OrderStatus) => ignore(`the order is already ${status}: only a pending order expires`);
const noCancellationUnderWay = (status: OrderStatus) => ignore(`the order is ${status}: no cancellation of it was under way`);
// The normal answer to cancelling a pending order, or to its expiry: the stock is back.
const stockReleased = (status: OrderStatus) => unchanged(`the processor released what it held; the order stays ${status}`);

/**
 * The saga's state machine: what each trigger does to an order in each status. The type makes the
 * compiler check that every status has a rule for every trigger. A status never moves backwards;
 * a trigger that does not apply to a status is ignored (recorded in the history, never applied).
 */
const TRANSITIONS: { readonly [S in OrderStatus]: { readonly [T in OrderTrigger]: Rule } } = {
	[OrderStatus.Pending]: {
		[OrderTriggers.ProcessedCompleted]: apply(OrderStatus.Completed),
		[OrderTriggers.ProcessedFailed]: apply(OrderStatus.Failed),
		[OrderTriggers.CancelRequested]: apply(OrderStatus.Cancelled, "cancelled"),
		[OrderTriggers.TimedOut]: apply(OrderStatus.Expired, "expired"),
		[OrderTriggers.Compensated]: noCancellationUnderWay(OrderStatus.Pending)
	},
	[OrderStatus.Completed]: {
		[OrderTriggers.ProcessedCompleted]: lateProcessingAnswer(OrderStatus.Completed),
		[OrderTriggers.ProcessedFailed]: lateProcessingAnswer(OrderStatus.Completed),
		// Undone step by step: the processor releases the stock, then answers `order.compensated`.
		[OrderTriggers.CancelRequested]: apply(OrderStatus.Cancelling, "cancelled"),
		[OrderTriggers.TimedOut]: notPendingToExpire(OrderStatus.Completed),
		[OrderTriggers.Compensated]: noCancellationUnderWay(OrderStatus.Completed)
	},
	[OrderStatus.Failed]: {
		[OrderTriggers.ProcessedCompleted]: lateProcessingAnswer(OrderStatus.Failed),
		[OrderTriggers.ProcessedFailed]: lateProcessingAnswer(OrderStatus.Failed),
		[OrderTriggers.CancelRequested]: order => {
			const why = order.errorMessage ? ` (${order.errorMessage.replace(/\.$/, "")})` : "";
			return { outcome: "refuse", reason: `Order '${order.id}' failed${why}: there is nothing to cancel.` };
		},
		[OrderTriggers.TimedOut]: notPendingToExpire(OrderStatus.Failed),
		[OrderTriggers.Compensated]: noCancellationUnderWay(OrderStatus.Failed)
	},
	[OrderStatus.Cancelling]: {
		[OrderTriggers.ProcessedCompleted]: lateProcessingAnswer(OrderStatus.Cancelling),
		[OrderTriggers.ProcessedFailed]: lateProcessingAnswer(OrderStatus.Cancelling),
		[OrderTriggers.CancelRequested]: unchanged("the order is already being cancelled"),
		[OrderTriggers.TimedOut]: notPendingToExpire(OrderStatus.Cancelling),
		[OrderTriggers.Compensated]: apply(OrderStatus.Cancelled)
	},
	[OrderStatus.Cancelled]: {
		[OrderTriggers.ProcessedCompleted]: lateProcessingAnswer(OrderStatus.Cancelled),
		[OrderTriggers.ProcessedFailed]: lateProcessingAnswer(OrderStatus.Cancelled),
		[OrderTriggers.CancelRequested]: unchanged("the order is already cancelled"),
		[OrderTriggers.TimedOut]: notPendingToExpire(OrderStatus.Cancelled),
		[OrderTriggers.Compensated]: stockReleased(OrderStatus.Cancelled)
	},
	[OrderStatus.Expired]: {
		[OrderTriggers.ProcessedCompleted]: lateProcessingAnswer(OrderStatus.Expired),
		[OrderTriggers.ProcessedFailed]: lateProcessingAnswer(OrderStatus.Expired),
		[OrderTriggers.CancelRequested]: order => ({ outcome: "refuse", reason: `Order '${order.id}' expired: it was already undone.` }),
		[OrderTriggers.TimedOut]: notPendingToExpire(OrderStatus.Expired),
		[OrderTriggers.Compensated]: stockReleased(OrderStatus.Expired)
	}
};

/** What `trigger` does to an order in its current status, as {@link TRANSITIONS} says. */
export function decideOrder(order: OrderState, trigger: OrderTrigger): OrderDecision {
	const rule = TRANSITIONS[order.status][trigger];
	return typeof rule === "function" ? rule(order) : rule;
}

/** The statuses a trigger moves an order out of (e.g. only `pending` expires). */
export function statusesMovedBy(trigger: OrderTrigger): OrderStatus[] {
	return Object.values(OrderStatus).filter(status => decideOrder({ id: "", status, errorMessage: null }, trigger).outcome === "apply");
}

/**
 * The final statuses: those no trigger moves an order out of (`failed`, `cancelled`, `expired`).
 * `completed` is not one: a cancel moves it to `cancelling`.
 */
export const FINAL_STATUSES: readonly OrderStatus[] = Object.values(OrderStatus).filter(status =>
	Object.values(OrderTriggers).every(trigger => !statusesMovedBy(trigger).includes(status))
);

/** True for a status no trigger moves an order out of. */
export function isFinalStatus(status: OrderStatus): boolean {
	return FINAL_STATUSES.includes(status);
}

/** The trigger of an `order.processed` answer. */
export function processedTrigger(outcome: "completed" | "failed"): OrderTrigger {
	return outcome === "completed" ? OrderTriggers.ProcessedCompleted : OrderTriggers.ProcessedFailed;
}

export interface NewOrder {
	id: string;
	customerId: string;
	items: OrderItem[];
	totalAmount: number;
	currency: string;
	correlationId: string;
	createdAt: Date;
}

/** The `order.created` event for a new order. */
export function orderCreatedEvent(order: NewOrder, eventId: string): OrderCreatedEvent {
	return {
		eventId,
		version: EVENT_SCHEMA_VERSION,
		orderId: order.id,
		correlationId: order.correlationId,
		customerId: order.customerId,
		items: order.items.map(i => ({ sku: i.sku, quantity: i.quantity, unitPrice: i.unitPrice })),
		totalAmount: order.totalAmount,
		currency: order.currency,
		occurredAt: order.createdAt.toISOString()
	};
}

/** The `order.cancelled` event that asks the processor to undo what it did for an order. */
export function orderCancelledEvent(
	order: { id: string; correlationId: string },
	cause: CancellationCause,
	reason: string | undefined,
	eventId: string,
	occurredAt: Date
): OrderCancelledEvent {
	return {
		eventId,
		version: EVENT_SCHEMA_VERSION,
		orderId: order.id,
		correlationId: order.correlationId,
		occurredAt: occurredAt.toISOString(),
		cause,
		...(reason !== undefined ? { reason } : {})
	};
}

/** Which service's history an entry of the merged history comes from. */
export type HistorySource = "own" | "other";

/**
 * The sources of the first `count` entries of two histories merged oldest first, given each one's
 * entry times in recorded order. Each list keeps its own order (a service knows the order of its
 * own steps better than clocks do); on equal times the own (orders) entry comes first.
 */
export function mergeOrder(own: readonly number[], other: readonly number[], count = own.length + other.length): HistorySource[] {
	const sources: HistorySource[] = [];
	let i = 0;
	let j = 0;
	while (sources.length < count && (i < own.length || j < other.length)) {
		const takeOther = i >= own.length || (j < other.length && other[j] < own[i]);
		sources.push(takeOther ? "other" : "own");
		if (takeOther) j++;
		else i++;
	}
	return sources;
}

/** The entries of each list in the order `sources` gives, each list read from its start. */
export function interleave<T>(sources: readonly HistorySource[], own: readonly T[], other: readonly T[]): T[] {
	let i = 0;
	let j = 0;
	const merged: T[] = [];
	for (const source of sources) {
		const entry = source === "own" ? own[i++] : other[j++];
		// A list shorter than its times said (a part read in another moment): skip, never invent.
		if (entry !== undefined) merged.push(entry);
	}
	return merged;
}

/** A run of one list's entries: `limit` of them from position `offset`. */
export interface EntryRange {
	offset: number;
	limit: number;
}

/**
 * What a page of the merged history needs of each service: the range of its own entries, and in
 * which order they interleave. `own` and `other` are the times of (at least) the first
 * `offset + limit` entries of each service's history.
 */
export function historyPageParts(
	own: readonly number[],
	other: readonly number[],
	offset: number,
	limit: number
): { sources: HistorySource[]; own: EntryRange; other: EntryRange } {
	const sources = mergeOrder(own, other, offset + limit);
	const before = sources.slice(0, offset);
	const onPage = sources.slice(offset);
	const count = (list: HistorySource[], source: HistorySource) => list.filter(s => s === source).length;
	return {
		sources: onPage,
		own: { offset: count(before, "own"), limit: count(onPage, "own") },
		other: { offset: count(before, "other"), limit: count(onPage, "other") }
	};
}

/** How often the expiry sweeper runs: a quarter of the timeout, at most 5 s, at least 100 ms. */
export function expirySweepIntervalMs(orderTimeoutMs: number): number {
	return Math.max(100, Math.min(Math.floor(orderTimeoutMs / 4), 5000));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a well-formed order id; anything else cannot name an order. */
export function isOrderId(value: string): boolean {
	return UUID.test(value);
}

/** Page arithmetic of the list action: page and size as integers, limit and offset for the query. */
export function pageWindow(page: number | string | undefined, pageSize: number | string | undefined, maxPageSize: number, defaultPageSize = 20) {
	const p = Math.max(1, Number(page ?? 1));
	const size = Math.min(maxPageSize, Math.max(1, Number(pageSize ?? defaultPageSize)));
	return { page: p, pageSize: size, limit: size, offset: (p - 1) * size };
}
