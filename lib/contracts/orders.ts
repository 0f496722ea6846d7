import { MAX_CANCEL_REASON_LENGTH, OrderLimits, newOrderItemSchema, type OrderItem } from "./events";
import { positiveIntegerParam } from "./numbers";
import { plainText } from "./text";

/** Order statuses, as the REST API shows them. */
export enum OrderStatus {
	Pending = "pending",
	Completed = "completed",
	Failed = "failed",
	/** A completed order being undone: the processor is releasing its stock. */
	Cancelling = "cancelling",
	Cancelled = "cancelled",
	/** No answer came within ORDER_TIMEOUT_MS; undone like a cancellation. */
	Expired = "expired"
}

export interface CreateOrderParams {
	/** Whose order it is; omitted, the caller's own id (`ctx.meta.user.sub`). */
	customerId?: string;
	items: OrderItem[];
	currency: string;
}

export interface ListOrdersParams {
	status?: OrderStatus;
	customerId?: string;
	page?: number | string;
	pageSize?: number | string;
}

/** What the API returns for one order. */
export interface OrderView {
	id: string;
	customerId: string;
	items: OrderItem[];
	totalAmount: number;
	currency: string;
	status: OrderStatus;
	errorMessage: string | null;
	correlationId: string;
	createdAt: string;
	updatedAt: string;
}

/** Where a page stands in its whole list: the paging fields of `GET /api/orders` and of a history. */
export interface PageInfo {
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

/** The paging fields of page `page` of `pageSize` rows in a list of `total`. */
export function pageInfo(total: number, page: number, pageSize: number): PageInfo {
	return { total, page, pageSize, totalPages: Math.ceil(total / pageSize) };
}

export interface OrderPage extends PageInfo {
	rows: OrderView[];
}

export const MAX_PAGE_SIZE = 100;

/** Highest page number of a list: nine digits, well inside 32 bits. */
export const MAX_PAGE_NUMBER = 999_999_999;

export const createOrderSchema = {
	type: "object",
	additionalProperties: false,
	// customerId may be omitted by an authenticated caller: the order is then its own.
	required: ["items", "currency"],
	properties: {
		customerId: { ...plainText(100), description: "Whose order it is. Omit it: the order is the token subject's own (a customer may name only itself)." },
		items: { type: "array", minItems: 1, maxItems: OrderLimits.maxItems, items: newOrderItemSchema },
		currency: { type: "string", pattern: "^[A-Z]{3}$", description: "ISO 4217 code of the currency, in capitals.", examples: ["EUR"] }
	}
} as const;

export const listOrdersSchema = {
	type: "object",
	additionalProperties: false,
	properties: {
		status: { enum: Object.values(OrderStatus) },
		customerId: plainText(100),
		page: positiveIntegerParam(MAX_PAGE_NUMBER, `Which page, from 1 to ${MAX_PAGE_NUMBER}.`),
		pageSize: positiveIntegerParam(MAX_PAGE_SIZE, `Orders a page holds: 20 unless given, ${MAX_PAGE_SIZE} at most.`)
	}
} as const;

export const orderIdSchema = {
	type: "object",
	required: ["id"],
	properties: { id: { type: "string", minLength: 1, maxLength: 100 } }
} as const;

export interface CancelOrderParams {
	id: string;
	reason?: string;
}

export const cancelOrderSchema = {
	type: "object",
	additionalProperties: false,
	required: ["id"],
	properties: {
		id: { type: "string", minLength: 1, maxLength: 100 },
		reason: plainText(MAX_CANCEL_REASON_LENGTH)
	}
} as const;
