/**
 * Who made a request, as the gateway puts it in `ctx.meta.user` after checking the bearer token.
 * Services read it to apply their rules (a customer acts on its own orders only); a call without
 * it comes from inside the cluster (the REPL, another service) and is not restricted.
 */

export const Roles = ["customer", "admin"] as const;
export type Role = (typeof Roles)[number];

export interface Caller {
	/** The token's subject: the customer id. */
	sub: string;
	role: Role;
}

/** What the gateway adds to `ctx.meta` of every call it makes for an authenticated request. */
export interface CallerMeta {
	user?: Caller | null;
}
