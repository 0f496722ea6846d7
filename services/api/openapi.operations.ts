/**
 * What the route table does not say about each routed action, for the OpenAPI document
 * (openapi.ts): the params schema it validates with, what it answers, its own error cases.
 */
import { Errors } from "moleculer";
import { deadLetterFilterSchema, deadLetterIdSchema, listDeadLettersSchema } from "../../lib/contracts/dead-letters";
import { HeaderNames } from "../../lib/contracts/headers";
import { orderHistorySchema } from "../../lib/contracts/history";
import { cancelOrderSchema, createOrderSchema, listOrdersSchema, orderIdSchema } from "../../lib/contracts/orders";
import type { ResponseSchemaName } from "../../lib/contracts/responses";
import { getStockSchema, setStockSchema } from "../../lib/contracts/stock";
import { DeadLetterNotReplayableError } from "../../lib/transport/dead-letter-store";
import { DeadLetterNotFoundError } from "../dead-letters/dead-letters.errors";
import {
	ForbiddenCustomerError,
	IdempotencyKeyInFlightError,
	IdempotencyKeyReusedError,
	OrderNotCancellableError,
	OrderNotFoundError
} from "../orders/orders.errors";
import { SkuNotFoundError } from "../processor/processor.errors";
import { NotReadyError } from "./api.errors";

/** A JSON Schema, as the actions declare theirs (read only: the document shares them). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/**
 * What each routed action takes: the schema object its `params` is (`null`: no params). A route
 * whose action is missing here stops the document from being built; a unit test checks each entry
 * is the action's own `params`.
 */
export const REQUEST_SCHEMAS: Readonly<Record<string, JsonSchema | null>> = {
	"orders.create": createOrderSchema,
	"orders.list": listOrdersSchema,
	"orders.get": orderIdSchema,
	"orders.cancel": cancelOrderSchema,
	"orders.history": orderHistorySchema,
	"api.live": null,
	"api.ready": null,
	"api.openapi": null,
	"processor.getStock": getStockSchema,
	"processor.setStock": setStockSchema,
	"deadLetters.list": listDeadLettersSchema,
	"deadLetters.replayAll": deadLetterFilterSchema,
	"deadLetters.purgeAll": deadLetterFilterSchema,
	"deadLetters.get": deadLetterIdSchema,
	"deadLetters.replay": deadLetterIdSchema,
	"deadLetters.purge": deadLetterIdSchema
};

export type ErrorStatus = 403 | 404 | 409 | 422 | 503;

/** What the route table does not say about an operation: its answer, and its own error cases. */
export interface OperationSpec {
	ok: { status: 200 | 201; description: string; schema: ResponseSchemaName | JsonSchema; headers?: string[] };
	/** Statuses particular to this operation, and when they come. */
	errors?: Partial<Record<ErrorStatus, string | { description: string; schema: ResponseSchemaName }>>;
	/** What the operation does, for people (Markdown); the document adds who may call it and its query rule. */
	description: string;
	/** The gateway answers itself: no other service can be unavailable or slow. */
	local?: boolean;
	/** Takes an `Idempotency-Key` header. */
	idempotent?: boolean;
	/**
	 * The body the docs page pre-fills ("Try it out"): one that succeeds as sent, with a customer's
	 * token (an admin's on admin routes). Required where the operation takes a body.
	 */
	requestExample?: Record<string, unknown>;
	/**
	 * For each status of `errors`, and where it differs from the generic one for the status (400:
	 * a nested query parameter), the error the product throws: the document's example of that
	 * answer is the problem the gateway makes of it.
	 */
	errorExamples?: Partial<Record<400 | ErrorStatus, unknown>>;
}

/** The order id the examples name. */
export const EXAMPLE_ORDER_ID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";

/** A validation error as the product's validator throws it (lib/validation/ajv-validator.ts). */
const validationError = (fields: Array<{ field: string; message: string; type: string }>) =>
	new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", fields);

const FOREIGN_ORDER = "No order has this id — or it is another customer's: a customer sees its own orders only.";

/** Each routed action's answer and own error cases; the generic ones (400, 401, 413, …) follow from the route. */
export const OPERATIONS: Readonly<Record<string, OperationSpec>> = {
	"orders.create": {
		idempotent: true,
		description:
			"Stores a `pending` order; the processor then reserves its stock and the order ends `completed` or `failed` " +
			"(read it again, or its history). A customer places orders for itself: a `customerId`, when given, must be its own " +
			"token subject. With an `Idempotency-Key`, the same key with the same body answers the first order again.",
		ok: {
			status: 201,
			description: "The order, `pending`; or, for a repeated Idempotency-Key with the same body, the first order.",
			schema: "Order",
			headers: [HeaderNames.Location, HeaderNames.IdempotentReplayed]
		},
		errors: {
			403: "A customer named another customer's `customerId`.",
			409: "A request with the same Idempotency-Key is still being processed: retry shortly.",
			422: "The Idempotency-Key was used before with a different body: send a new key for a new order."
		},
		// No customerId: the order is the token subject's own. SKU-0001 is in the demo catalogue.
		requestExample: { items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 9.99 }], currency: "EUR" },
		errorExamples: {
			400: validationError([{ field: "items[0].quantity", message: "must be >= 1", type: "minimum" }]),
			403: new ForbiddenCustomerError("customer-1", "customer-2", "place orders only for itself"),
			409: new IdempotencyKeyInFlightError("order-2025-0001"),
			422: new IdempotencyKeyReusedError("order-2025-0001")
		}
	},
	"orders.list": {
		description: "A customer sees its own orders only: `customerId`, when given, must be its own token subject.",
		ok: { status: 200, description: "One page of orders, newest first, and the count of the whole filter.", schema: "OrderPage" },
		errors: { 403: "A customer named another customer's `customerId`." },
		errorExamples: { 403: new ForbiddenCustomerError("customer-1", "customer-2", "list only its own orders") }
	},
	"orders.get": {
		description: "The order as it is now: its lines, total and status (`pending` until the processor answered). A customer reads its own orders only.",
		ok: { status: 200, description: "The order.", schema: "Order" },
		errors: { 404: FOREIGN_ORDER },
		errorExamples: { 404: new OrderNotFoundError(EXAMPLE_ORDER_ID) }
	},
	"orders.cancel": {
		description:
			"A `pending` order becomes `cancelled`; a `completed` one `cancelling`, then `cancelled` once the processor " +
			"released its stock. Cancelling a cancelled order again is a 200.",
		ok: { status: 200, description: "The order as the cancellation left it.", schema: "Order" },
		errors: { 404: FOREIGN_ORDER, 409: "The order's status forbids a cancellation: it `failed` or `expired`." },
		requestExample: { reason: "Ordered by mistake" },
		errorExamples: {
			404: new OrderNotFoundError(EXAMPLE_ORDER_ID),
			409: new OrderNotCancellableError(EXAMPLE_ORDER_ID, "failed", `Order '${EXAMPLE_ORDER_ID}' failed (Not enough stock of 'SKU-0001'): there is nothing to cancel.`)
		}
	},
	"orders.history": {
		description:
			"Every step of the order in both services, merged oldest first, one page at a time: `pageSize` entries (100 unless given, 500 at most) " +
			"from position `(page - 1) × pageSize`; a page may reach 100,000 entries deep at most.",
		ok: {
			status: 200,
			description: "One page of the order's steps, oldest first, and the count of the whole history; `complete: false` when the processor could not be asked (the page and `total` are then the orders part only).",
			schema: "OrderHistory"
		},
		errors: { 404: FOREIGN_ORDER },
		errorExamples: { 404: new OrderNotFoundError(EXAMPLE_ORDER_ID) }
	},
	"api.live": { local: true, description: "Answers as long as this process serves HTTP, whatever its dependencies: for a liveness probe.", ok: { status: 200, description: "This process answers HTTP.", schema: "Liveness" } },
	"api.ready": {
		local: true,
		description:
			"Whether this node is ready: the databases of the services it runs answer, the broker is connected, no local outbox lags past READY_MAX_OUTBOX_LAG_S. " +
			"The answer names no dependency; which check failed is on the node's metrics port (`/health/ready`). Checked at most once a second.",
		ok: { status: 200, description: "This node is ready.", schema: "Readiness" },
		errors: { 503: "This node is not ready; the problem names no dependency. Retry shortly, or through another node." },
		errorExamples: { 503: new NotReadyError() }
	},
	"api.openapi": {
		local: true,
		description: "This OpenAPI 3.1 document, built from the routes and the very schemas the API validates requests with. The page at `/api/docs` shows it.",
		ok: {
			status: 200,
			description: "This document.",
			schema: {
				type: "object",
				required: ["openapi", "info", "paths"],
				properties: { openapi: { type: "string", pattern: "^3\\.1\\." }, info: { type: "object" }, paths: { type: "object" } }
			}
		}
	},
	"processor.getStock": {
		description: "A SKU's units: `available` to new orders, and `reserved` by orders that took them.",
		ok: { status: 200, description: "The SKU's available and reserved units.", schema: "Stock" },
		errors: { 404: "No SKU has this name." },
		errorExamples: { 404: new SkuNotFoundError("SKU-9999") }
	},
	"processor.setStock": {
		description: "Creates the SKU when it is new; its reserved units stay as they are.",
		ok: { status: 200, description: "The SKU's stock as it is now.", schema: "Stock" },
		requestExample: { available: 1000 }
	},
	"deadLetters.list": { description: "Events whose handling failed for good, from RabbitMQ's dead-letter queues or the services' outboxes, filtered by any of the fields given.", ok: { status: 200, description: "The dead letters matching the filter, oldest first.", schema: "DeadLetterList" } },
	"deadLetters.replayAll": {
		description:
			"Sends every dead letter matching the filter (all of them without one) back to be handled again; one not signed with the cluster key (a message no node of this cluster sent) stays where it is.",
		ok: { status: 200, description: "How many were replayed, and which.", schema: "DeadLettersReplayed" },
		// Pre-filled with one order's filter: "Try it out" must not replay every dead letter at once.
		requestExample: { orderId: EXAMPLE_ORDER_ID }
	},
	"deadLetters.purgeAll": {
		description: "Deletes every dead letter matching the filter (all of them without one) for good.",
		ok: { status: 200, description: "How many were purged, and which.", schema: "DeadLettersPurged" }
	},
	"deadLetters.get": {
		description: "One dead letter, with the event's payload, the last error and how often it was tried and replayed.",
		ok: { status: 200, description: "The dead letter, with its payload, error and attempts.", schema: "DeadLetter" },
		errors: { 404: "No dead letter has this id." },
		errorExamples: { 404: new DeadLetterNotFoundError("orders-outbox-7") }
	},
	"deadLetters.replay": {
		description: "Sends the dead letter back to be handled again: to its queue, or to its service's outbox. It takes no body.",
		ok: { status: 200, description: "The dead letter as it was before it went back to its queue (or outbox).", schema: "DeadLetter" },
		errors: { 404: "No dead letter has this id.", 409: "The dead letter is not signed with the cluster key (no node of this cluster sent it): it is never replayed, only purged." },
		errorExamples: { 404: new DeadLetterNotFoundError("orders-outbox-7"), 409: new DeadLetterNotReplayableError("orders-outbox-7") }
	},
	"deadLetters.purge": {
		description: "Deletes the dead letter for good.",
		ok: { status: 200, description: "The dead letter as it was before it was deleted.", schema: "DeadLetter" },
		errors: { 404: "No dead letter has this id." },
		errorExamples: { 404: new DeadLetterNotFoundError("orders-outbox-7") }
	}
};

/** The document's tags, each for the routes under its path prefix. */
export const TAGS: ReadonlyArray<{ name: string; description: string; prefix: string }> = [
	{ name: "orders", prefix: "/orders", description: "A customer's orders: place, read, list, cancel, and each one's history." },
	{ name: "stock", prefix: "/admin/stock", description: "Admin only: a SKU's stock." },
	{ name: "dead letters", prefix: "/admin/dead-letters", description: "Admin only: events whose handling failed for good — inspect, replay, purge." },
	{ name: "health", prefix: "/health", description: "Liveness and readiness probes; no token needed." },
	{ name: "documentation", prefix: "/openapi.json", description: "This document; the page at /api/docs shows it." }
];

/** The document's `info.description` (Markdown). */
export const API_DESCRIPTION = `Orders placed by customers and processed by a saga across two services.

**Authentication.** Send \`Authorization: Bearer <JWT>\`; the token's \`sub\` is the customer id and its \`role\` is \`customer\` or \`admin\`. No token or a bad one: \`401\`. When no key of the identity provider could be read: \`503\` with \`Retry-After\`, try again then.

**Roles.** A *customer* places, reads, lists, cancels its own orders and reads their history (another customer's order is a \`404\`). An *admin* may do all that for any customer, and alone reads and sets stock and works on dead letters (\`/admin/...\`). The health routes and this document need no token.

**Errors** are \`application/problem+json\` (RFC 9457): \`type\`, \`title\`, \`status\`, \`detail\`, \`code\` (the \`type\`'s last part in capitals, always present: the \`Problem\` schema lists them), \`instance\`, \`correlationId\`, and for an invalid request \`errors\`, one entry per offending field.

**Correlation.** Every answer carries \`X-Correlation-Id\`: the one you sent, or a new one. It follows an order through both services and their logs.

**Query parameters.** A \`GET\` ignores query parameters it does not list, so a cache-buster (\`?_=1700000000\`) is harmless; any other method refuses them with a \`400\`, so that a mistyped filter never widens a purge. A parameter nested (\`a[b]\`) or given twice is a \`400\` everywhere.

**Rate limit.** Each caller (token subject, else address) has a number of requests a minute; past it, \`429\` with \`Retry-After\`. Every answer to a counted request (any route but the health routes and this document) carries \`RateLimit-Limit\`, \`RateLimit-Remaining\` and \`RateLimit-Reset\` while limiting is on.

**Methods.** Every path that answers \`GET\` answers \`HEAD\` too (the same status and headers, no body). \`OPTIONS\` on any path of the API answers \`204\` with \`Allow\` listing its methods, and to a browser's preflight from an origin in CORS_ORIGINS the CORS headers; it never runs an operation. Another method on a known path is a \`405\` problem (code \`METHOD_NOT_ALLOWED\`) with \`Allow\`; a path that is no route is a \`404\` (code \`NOT_FOUND\`).`;

/** Who answers for this API. No address is named: the product has no public one to give. */
export const API_CONTACT = { name: "The order pipeline team" };
