/**
 * The events the two services exchange: one TypeScript type and one JSON Schema each, imported by
 * both sides. A consumer validates every incoming payload against its schema before acting on it.
 */

import { moneyAmount } from "./money";
import { plainText } from "./text";

export const EVENT_SCHEMA_VERSION = 1;

/**
 * Bounds of an order. A new order has 1 to `maxItems` lines, each of 1 to `maxQuantity` units at a
 * unit price of 0 to `maxUnitPrice`: its total (at most 100 × 10,000 × 100,000.00 = 10^11) fits the
 * orders table's `total_amount` (NUMERIC(16,2)) and is exact in cents as a JavaScript number. Events
 * and stored orders are checked against the wider `maxStoredQuantity` and `maxTotalAmount`, the
 * bounds of the API before a line was capped at 10,000 units: an `order.created` queued before
 * that still validates at the processor instead of being dead-lettered.
 */
export const OrderLimits = {
	maxItems: 100,
	maxQuantity: 10_000,
	maxStoredQuantity: 1_000_000,
	maxUnitPrice: 100_000,
	maxTotalAmount: 10_000_000_000_000
} as const;

/** Event names, and the consumer group whose durable queue receives each. */
export const Events = {
	OrderCreated: "order.created",
	OrderProcessed: "order.processed",
	/** orders → processor: undo (or never do) what was done for the order. */
	OrderCancelled: "order.cancelled",
	/** processor → orders: the order's stock is released (or was never taken). */
	OrderCompensated: "order.compensated"
} as const;

export const ConsumerGroups = {
	[Events.OrderCreated]: "processor",
	[Events.OrderProcessed]: "orders",
	[Events.OrderCancelled]: "processor",
	[Events.OrderCompensated]: "orders"
} as const;

export interface OrderItem {
	sku: string;
	quantity: number;
	unitPrice: number;
}

interface EventEnvelope {
	/** Unique per event; consumers deduplicate by it. */
	eventId: string;
	version: typeof EVENT_SCHEMA_VERSION;
	orderId: string;
	/** The id of the HTTP request that started the saga. */
	correlationId: string;
	occurredAt: string;
}

export interface OrderCreatedEvent extends EventEnvelope {
	customerId: string;
	items: OrderItem[];
	totalAmount: number;
	currency: string;
}

export interface OrderProcessedEvent extends EventEnvelope {
	status: "completed" | "failed";
	errorMessage?: string;
}

const envelopeProperties = {
	eventId: { type: "string", minLength: 1, maxLength: 100 },
	version: { const: EVENT_SCHEMA_VERSION },
	orderId: { type: "string", format: "uuid" },
	correlationId: plainText(200),
	occurredAt: { type: "string", format: "date-time" }
} as const;

const envelopeRequired = ["eventId", "version", "orderId", "correlationId", "occurredAt"];

/** One line of an order as events carry it (and as orders stores it). */
export const orderItemSchema = {
	type: "object",
	additionalProperties: false,
	required: ["sku", "quantity", "unitPrice"],
	properties: {
		sku: { type: "string", minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$", examples: ["SKU-0001"] },
		quantity: { type: "integer", minimum: 1, maximum: OrderLimits.maxStoredQuantity, examples: [1] },
		unitPrice: { ...moneyAmount(OrderLimits.maxUnitPrice, "Price of one unit, in the order's currency."), examples: [9.99] }
	}
} as const;

/** One line of a new order (`POST /api/orders`): at most {@link OrderLimits.maxQuantity} units. */
export const newOrderItemSchema = {
	...orderItemSchema,
	properties: {
		...orderItemSchema.properties,
		quantity: { type: "integer", minimum: 1, maximum: OrderLimits.maxQuantity, description: `Units of the SKU, 1 to ${OrderLimits.maxQuantity}.`, examples: [1] }
	}
} as const;

export const orderCreatedSchema = {
	$id: "event:order.created",
	type: "object",
	additionalProperties: false,
	required: [...envelopeRequired, "customerId", "items", "totalAmount", "currency"],
	properties: {
		...envelopeProperties,
		customerId: plainText(100),
		items: { type: "array", minItems: 1, maxItems: OrderLimits.maxItems, items: orderItemSchema },
		totalAmount: { type: "number", minimum: 0, maximum: OrderLimits.maxTotalAmount },
		currency: { type: "string", pattern: "^[A-Z]{3}$" }
	}
} as const;

export const orderProcessedSchema = {
	$id: "event:order.processed",
	type: "object",
	additionalProperties: false,
	required: [...envelopeRequired, "status"],
	properties: {
		...envelopeProperties,
		status: { enum: ["completed", "failed"] },
		errorMessage: { type: "string", maxLength: 2000, pattern: plainText(2000).pattern }
	}
} as const;

/** Why an order is undone: a caller cancelled it, or no answer came within ORDER_TIMEOUT_MS. */
export type CancellationCause = "cancelled" | "expired";

export interface OrderCancelledEvent extends EventEnvelope {
	cause: CancellationCause;
	/** The caller's reason, when one was given. */
	reason?: string;
}

/** One SKU's units given back to the stock. */
export interface ReleasedLine {
	sku: string;
	quantity: number;
}

export interface OrderCompensatedEvent extends EventEnvelope {
	cause: CancellationCause;
	/** What was released; empty when nothing had been reserved (or the order was never processed). */
	released: ReleasedLine[];
}

/** Longest `reason` a caller may give for a cancellation. */
export const MAX_CANCEL_REASON_LENGTH = 500;

export const orderCancelledSchema = {
	$id: "event:order.cancelled",
	type: "object",
	additionalProperties: false,
	required: [...envelopeRequired, "cause"],
	properties: {
		...envelopeProperties,
		cause: { enum: ["cancelled", "expired"] },
		reason: { ...plainText(MAX_CANCEL_REASON_LENGTH) }
	}
} as const;

export const orderCompensatedSchema = {
	$id: "event:order.compensated",
	type: "object",
	additionalProperties: false,
	required: [...envelopeRequired, "cause", "released"],
	properties: {
		...envelopeProperties,
		cause: { enum: ["cancelled", "expired"] },
		released: {
			type: "array",
			maxItems: OrderLimits.maxItems,
			items: {
				type: "object",
				additionalProperties: false,
				required: ["sku", "quantity"],
				properties: {
					sku: orderItemSchema.properties.sku,
					quantity: { type: "integer", minimum: 1, maximum: OrderLimits.maxStoredQuantity * OrderLimits.maxItems }
				}
			}
		}
	}
} as const;
