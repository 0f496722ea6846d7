/**
 * The rules of an order, free of broker, database and HTTP: what the services decide, and what the
 * unit tests hit hardest.
 */
import { createHash } from "node:crypto";
import { EVENT_SCHEMA_VERSION, type OrderCreatedEvent, type OrderItem } from "../../lib/contracts/events";
import { OrderStatus, type CreateOrderParams } from "../../lib/contracts/orders";

/** Total of an order in currency units, summed in cents so that 0.1 + 0.2 stays 0.30. */
export function computeTotal(items: OrderItem[]): number {
	const cents = items.reduce((sum, item) => sum + Math.round(item.unitPrice * 100) * item.quantity, 0);
	return cents / 100;
}

/**
 * A fingerprint of what a create request asks for, to tell a retried request (same key, same body)
 * from a reused key (same key, other body). Key order in the JSON does not matter.
 */
export function requestFingerprint(params: CreateOrderParams): string {
	const canonical = {
		customerId: params.customerId,
		currency: params.currency,
		items: params.items.map(i => ({ sku: i.sku, quantity: i.quantity, unitPrice: i.unitPrice }))
	};
	return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

const TRANSITIONS: Record<OrderStatus, OrderStatus[]> = {
	[OrderStatus.Pending]: [OrderStatus.Completed, OrderStatus.Failed, OrderStatus.Cancelled, OrderStatus.Expired],
	[OrderStatus.Completed]: [OrderStatus.Cancelling],
	[OrderStatus.Failed]: [],
	[OrderStatus.Cancelling]: [OrderStatus.Cancelled],
	[OrderStatus.Cancelled]: [],
	[OrderStatus.Expired]: []
};

/** True when an order may move from one status to another; a status never moves backwards. */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
	return TRANSITIONS[from].includes(to);
}

/**
 * The status an `order.processed` answer moves an order to, or `null` when it must change nothing
 * (the order already left `pending`: a late, repeated or out-of-order answer).
 */
export function statusAfterProcessing(current: OrderStatus, outcome: "completed" | "failed"): OrderStatus | null {
	if (current !== OrderStatus.Pending) return null;
	const next = outcome === "completed" ? OrderStatus.Completed : OrderStatus.Failed;
	return canTransition(current, next) ? next : null;
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
