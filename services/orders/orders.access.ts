/**
 * Who may do what with orders. The gateway puts the authenticated caller in `ctx.meta.user`: a
 * customer acts on its own orders only, an admin on all of them. A call without a caller comes
 * from inside the cluster (the REPL, another service) and is not restricted.
 *
 * A customer never learns that someone else's order exists: asking for it is answered as for an
 * order that does not exist (404). Naming another customer in a request body or filter is a plain
 * mistake of the client, and is answered 403.
 */
import type { Caller, CallerMeta } from "../../lib/auth/caller";
import { ParamsValidationError } from "../../lib/validation/ajv-validator";
import { ForbiddenCustomerError } from "./orders.errors";

/** The caller of a request, or null for a call from inside the cluster. */
export function callerOf(meta: CallerMeta | undefined): Caller | null {
	return meta?.user ?? null;
}

/**
 * The customer whose orders the caller is limited to, or null when it may see them all (an admin,
 * or no caller). Any role other than admin is limited: an unknown role gets no more than a customer.
 */
export function ownCustomerId(caller: Caller | null): string | null {
	if (!caller || caller.role === "admin") return null;
	return caller.sub;
}

/**
 * The customer of a new order: the one the body names, else the caller's own id. A customer may
 * name only itself (403); without a caller the body must name one (400, as a missing field).
 */
export function customerOfNewOrder(customerId: string | undefined, caller: Caller | null): string {
	const own = ownCustomerId(caller);
	if (own !== null && customerId !== undefined && customerId !== own) {
		throw new ForbiddenCustomerError(own, customerId, "place orders only for itself");
	}
	const resolved = customerId ?? caller?.sub;
	if (resolved === undefined) {
		throw new ParamsValidationError([{ field: "customerId", message: "is required", type: "required" }]);
	}
	return resolved;
}

/**
 * The customer filter of a list: the caller's own id for a customer (naming another one is a
 * 403), the requested one (or none) for an admin or a call from inside the cluster.
 */
export function customerFilterOfList(customerId: string | undefined, caller: Caller | null): string | undefined {
	const own = ownCustomerId(caller);
	if (own === null) return customerId;
	if (customerId !== undefined && customerId !== own) {
		throw new ForbiddenCustomerError(own, customerId, "list only its own orders");
	}
	return own;
}

/** The condition on `orders` rows that the caller may see: none, or its own customer id. */
export function visibleTo(caller: Caller | null): { customerId?: string } {
	const own = ownCustomerId(caller);
	return own === null ? {} : { customerId: own };
}

/** Whose Idempotency-Keys a caller's are: its own `sub`; '' for a call from inside the cluster. */
export function idempotencyScope(caller: Caller | null): string {
	return caller?.sub ?? "";
}
