/**
 * JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of what the REST actions answer: the OpenAPI
 * document shows them, and the HTTP contract tests validate live responses against them. Each
 * mirrors a TypeScript type of the contracts; a field that may be `null` has a type array.
 * Cross-references use `#/components/schemas/<name>` (the names of {@link responseSchemas}).
 */
import { OrderLimits, orderItemSchema } from "./events";
import { MAX_HISTORY_PAGE_SIZE } from "./history";
import { MAX_PAGE_SIZE, OrderStatus } from "./orders";
import { describeProblemCodes } from "./problems";
import { skuSchema } from "./stock";

const ref = (name: ResponseSchemaName) => ({ $ref: `#/components/schemas/${name}` }) as const;
const nullable = (type: "string" | "object") => ({ type: [type, "null"] }) as const;
const count = { type: "integer", minimum: 0 } as const;
const dateTime = { type: "string", format: "date-time" } as const;

/** `OrderView` (lib/contracts/orders.ts), as `toOrderView` makes it. */
const order = {
	type: "object",
	additionalProperties: false,
	required: ["id", "customerId", "items", "totalAmount", "currency", "status", "errorMessage", "correlationId", "createdAt", "updatedAt"],
	properties: {
		id: { type: "string", format: "uuid" },
		customerId: { type: "string", minLength: 1 },
		items: { type: "array", minItems: 1, maxItems: OrderLimits.maxItems, items: ref("OrderItem") },
		totalAmount: { type: "number", minimum: 0, maximum: OrderLimits.maxTotalAmount },
		currency: { type: "string", pattern: "^[A-Z]{3}$" },
		status: { type: "string", enum: Object.values(OrderStatus) },
		errorMessage: { ...nullable("string"), description: "Why the order failed, when it did." },
		correlationId: { type: "string", minLength: 1, description: "The id of the request that placed the order." },
		createdAt: dateTime,
		updatedAt: dateTime
	}
} as const;

/** `OrderPage`: one page of orders, newest first, and the count of the whole filter. */
const orderPage = {
	type: "object",
	additionalProperties: false,
	required: ["rows", "total", "page", "pageSize", "totalPages"],
	properties: {
		rows: { type: "array", maxItems: MAX_PAGE_SIZE, items: ref("Order") },
		total: count,
		page: { type: "integer", minimum: 1 },
		pageSize: { type: "integer", minimum: 1, maximum: MAX_PAGE_SIZE },
		totalPages: count
	}
} as const;

/** `HistoryEntry` (lib/contracts/history.ts). */
const historyEntry = {
	type: "object",
	additionalProperties: false,
	required: ["at", "service", "step", "status", "eventId", "correlationId", "nodeID", "detail"],
	properties: {
		at: dateTime,
		service: { type: "string", enum: ["orders", "processor"] },
		step: { type: "string" },
		status: { type: "string" },
		eventId: nullable("string"),
		correlationId: nullable("string"),
		nodeID: { type: "string" },
		detail: nullable("object")
	}
} as const;

/** `OrderHistory`: one page of both services' entries, oldest first, with the paging fields of `OrderPage`. */
const orderHistory = {
	type: "object",
	additionalProperties: false,
	required: ["orderId", "entries", "complete", "total", "page", "pageSize", "totalPages"],
	properties: {
		orderId: { type: "string", format: "uuid" },
		entries: { type: "array", maxItems: MAX_HISTORY_PAGE_SIZE, items: ref("HistoryEntry") },
		complete: { type: "boolean", description: "False when the processor could not be asked: the entries, and `total`, are the orders part only." },
		total: { ...count, description: "Entries in the whole history." },
		page: { type: "integer", minimum: 1 },
		pageSize: { type: "integer", minimum: 1, maximum: MAX_HISTORY_PAGE_SIZE },
		totalPages: count
	}
} as const;

/** `StockView`: one SKU's units. */
const stock = {
	type: "object",
	additionalProperties: false,
	required: ["sku", "available", "reserved"],
	properties: { sku: skuSchema, available: count, reserved: count }
} as const;

/** `DeadLetterView` (lib/contracts/dead-letters.ts). */
const deadLetter = {
	type: "object",
	additionalProperties: false,
	required: ["id", "event", "group", "queue", "attempts", "replays", "error", "errorName", "deadLetteredAt", "orderId", "correlationId", "payload"],
	properties: {
		id: { type: "string", minLength: 1, description: "A RabbitMQ message id, or `<service>-outbox-<row id>` for an outbox row." },
		event: { type: "string" },
		group: { type: "string" },
		queue: { type: "string", description: "The queue it came from, or `outbox:<service>`." },
		attempts: count,
		replays: count,
		error: nullable("string"),
		errorName: nullable("string"),
		deadLetteredAt: { ...nullable("string"), format: "date-time" },
		orderId: nullable("string"),
		correlationId: nullable("string"),
		payload: { description: "The event's payload, or the raw text of a message that is not a Moleculer packet." }
	}
} as const;

/** `deadLetters.list`: the dead letters, oldest first. */
const deadLetterList = {
	type: "object",
	additionalProperties: false,
	required: ["rows", "count"],
	properties: { rows: { type: "array", items: ref("DeadLetter") }, count }
} as const;

const ids = { type: "array", items: { type: "string" } } as const;

/** `deadLetters.replayAll`: how many were replayed, and which. */
const deadLettersReplayed = {
	type: "object",
	additionalProperties: false,
	required: ["replayed", "ids"],
	properties: { replayed: count, ids }
} as const;

/** `deadLetters.purgeAll`: how many were purged, and which. */
const deadLettersPurged = {
	type: "object",
	additionalProperties: false,
	required: ["purged", "ids"],
	properties: { purged: count, ids }
} as const;

/** `api.live`. */
const liveness = {
	type: "object",
	additionalProperties: false,
	required: ["status"],
	properties: { status: { const: "ok" } }
} as const;

/**
 * `api.ready` when this node is ready. The public learns nothing more: which check failed and each
 * outbox's lag are on the metrics port's `/health/ready` (README, *Health*).
 */
const readiness = {
	type: "object",
	additionalProperties: false,
	required: ["status"],
	properties: { status: { const: "ok" } }
} as const;

/** An RFC 9457 problem document, as services/api/problem.ts makes it. */
const problem = {
	type: "object",
	required: ["type", "title", "status", "detail", "code"],
	description: "RFC 9457 problem details. Other members may extend it (`header`, `parameter`, …).",
	properties: {
		type: { type: "string", format: "uri", description: "Stable id of the kind of problem: `urn:order-pipeline:problem:<slug>`." },
		code: {
			type: "string",
			pattern: "^[A-Z][A-Z0-9_]*$",
			description:
				"The kind of problem for a program to act on: the `type`'s last part in capitals (`validation-error` → `VALIDATION_ERROR`). " +
				`Always present. The codes:\n${describeProblemCodes()}\n\nAnother may come from a layer below (the body parser's, say): act on the \`status\` then.`
		},
		title: { type: "string" },
		status: { type: "integer", minimum: 400, maximum: 599 },
		detail: { type: "string", description: "What went wrong, in words a person can act on." },
		instance: { type: "string", description: "The request's path." },
		correlationId: { type: "string", description: "Quote it when you report a problem." },
		errors: {
			type: "array",
			description: "For a validation problem: each offending field.",
			items: {
				type: "object",
				additionalProperties: false,
				required: ["field", "message"],
				properties: { field: { type: "string" }, message: { type: "string" } }
			}
		}
	}
} as const;

/** The response schemas by the name the OpenAPI document gives them under `components/schemas`. */
export const responseSchemas = {
	Order: order,
	// One line of an order as it was accepted: as events carry it and orders stores it.
	OrderItem: orderItemSchema,
	OrderPage: orderPage,
	OrderHistory: orderHistory,
	HistoryEntry: historyEntry,
	Stock: stock,
	DeadLetter: deadLetter,
	DeadLetterList: deadLetterList,
	DeadLettersReplayed: deadLettersReplayed,
	DeadLettersPurged: deadLettersPurged,
	Liveness: liveness,
	Readiness: readiness,
	Problem: problem
} as const satisfies Record<ResponseSchemaName, object>;

export type ResponseSchemaName =
	| "Order"
	| "OrderItem"
	| "OrderPage"
	| "OrderHistory"
	| "HistoryEntry"
	| "Stock"
	| "DeadLetter"
	| "DeadLetterList"
	| "DeadLettersReplayed"
	| "DeadLettersPurged"
	| "Liveness"
	| "Readiness"
	| "Problem";
