/**
 * The types the orders service shares with its saga's modules: kept here, apart from
 * orders.service.ts, so that they need not import the service that adapts them.
 */
import type { CallerMeta } from "../../lib/auth/caller";
import type { OrderView } from "../../lib/contracts/orders";

/** What the gateway puts in `ctx.meta` for the orders actions, with the caller it authenticated. */
export interface OrdersMeta extends CallerMeta {
	correlationId?: string;
	idempotencyKey?: string;
	$statusCode?: number;
	$location?: string;
	$responseHeaders?: Record<string, string>;
}

/** An order just created, or the first one of a repeated Idempotency-Key. */
export interface CreatedOrder {
	order: OrderView;
	/** True when the order is the first one of a repeated key. */
	replayed: boolean;
}
