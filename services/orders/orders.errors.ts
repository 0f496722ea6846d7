import { Errors } from "moleculer";
import { ParamsValidationError } from "../../lib/validation/ajv-validator";

export const ERR_ORDER_NOT_FOUND = "ORDER_NOT_FOUND";
export const ERR_IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED";
export const ERR_ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE";
export const ERR_FORBIDDEN_CUSTOMER = "FORBIDDEN_CUSTOMER";
export const ERR_IDEMPOTENCY_KEY_IN_FLIGHT = "IDEMPOTENCY_KEY_IN_FLIGHT";

/** No order has this id (404). */
export class OrderNotFoundError extends Errors.MoleculerClientError {
	constructor(id: string) {
		super(`Order '${id}' was not found.`, 404, ERR_ORDER_NOT_FOUND, { id });
	}
}

/** An Idempotency-Key was sent again with a different request body (422). */
export class IdempotencyKeyReusedError extends Errors.MoleculerClientError {
	constructor(key: string) {
		super(
			`Idempotency-Key '${key}' was already used for a different request; send a new key for a new order.`,
			422,
			ERR_IDEMPOTENCY_KEY_REUSED,
			{ idempotencyKey: key }
		);
	}
}

/**
 * The first request with this Idempotency-Key (of this caller) is still being processed (409): its
 * answer is not known yet. Retrying once it finished gets that answer.
 */
export class IdempotencyKeyInFlightError extends Errors.MoleculerClientError {
	constructor(key: string) {
		super(
			`A request with Idempotency-Key '${key}' is still being processed; retry after it finishes.`,
			409,
			ERR_IDEMPOTENCY_KEY_IN_FLIGHT,
			{ idempotencyKey: key }
		);
	}
}

/**
 * A paging parameter past its bound (400), shaped as a validation error so that the problem's
 * `errors` names the parameter, as for any other invalid field.
 */
export class PageParameterError extends ParamsValidationError {
	constructor(field: "page" | "pageSize", message: string) {
		super([{ field, message, type: "maximum" }]);
	}
}

/** The order's status forbids a cancellation, e.g. it failed or expired (409); the message says why. */
export class OrderNotCancellableError extends Errors.MoleculerClientError {
	constructor(id: string, status: string, reason: string) {
		super(reason, 409, ERR_ORDER_NOT_CANCELLABLE, { id, status });
	}
}

/**
 * A customer named another customer in `customerId` (403): it may place and list only its own
 * orders. `action` says what it tried, e.g. "place orders only for itself".
 */
export class ForbiddenCustomerError extends Errors.MoleculerClientError {
	constructor(sub: string, customerId: string, action: string) {
		super(`A customer may ${action}; omit customerId or send '${sub}'.`, 403, ERR_FORBIDDEN_CUSTOMER, { customerId });
	}
}
