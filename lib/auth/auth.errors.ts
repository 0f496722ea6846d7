import { Errors } from "moleculer";

export const ERR_MISSING_TOKEN = "MISSING_TOKEN";
export const ERR_INVALID_TOKEN = "INVALID_TOKEN";
export const ERR_TOKEN_EXPIRED = "TOKEN_EXPIRED";
export const ERR_FORBIDDEN_ROLE = "FORBIDDEN_ROLE";
export const ERR_IDENTITY_PROVIDER_UNAVAILABLE = "IDENTITY_PROVIDER_UNAVAILABLE";

/** The realm named in every `WWW-Authenticate` challenge. */
export const AUTH_REALM = "order-pipeline";

/** RFC 6750 challenge: `Bearer realm="…"`, with an error code and description when a token was sent. */
export function bearerChallenge(error?: "invalid_token" | "invalid_request" | "insufficient_scope", description?: string): string {
	const parts = [`realm="${AUTH_REALM}"`];
	if (error) parts.push(`error="${error}"`);
	// A quoted-string: no quotes or backslashes, printable ASCII only.
	if (description) parts.push(`error_description="${description.replace(/[^\x20-\x7e]|["\\]/g, "")}"`);
	return `Bearer ${parts.join(", ")}`;
}

/** No `Authorization: Bearer …` header on a route that needs one (401). */
export class MissingTokenError extends Errors.MoleculerClientError {
	constructor(detail = "This route needs a bearer token: send 'Authorization: Bearer <JWT>'.") {
		super(detail, 401, ERR_MISSING_TOKEN, { wwwAuthenticate: bearerChallenge() });
	}
}

/** A bearer token was sent but cannot be accepted: malformed, badly signed, wrong algorithm, audience or issuer, a claim missing (401). */
export class InvalidTokenError extends Errors.MoleculerClientError {
	constructor(reason: string) {
		super(`The bearer token was refused: ${reason}. Get a new token and send it as 'Authorization: Bearer <JWT>'.`, 401, ERR_INVALID_TOKEN, {
			wwwAuthenticate: bearerChallenge("invalid_token", reason)
		});
	}
}

/** The token's `exp` is past, beyond the allowed clock skew (401). */
export class TokenExpiredError extends Errors.MoleculerClientError {
	constructor() {
		super("The bearer token has expired. Get a new token and send it as 'Authorization: Bearer <JWT>'.", 401, ERR_TOKEN_EXPIRED, {
			wwwAuthenticate: bearerChallenge("invalid_token", "The token has expired")
		});
	}
}

/** A valid token whose role may not call this route (403). */
export class ForbiddenRoleError extends Errors.MoleculerClientError {
	constructor(needed: string, role: string) {
		super(`This route needs the role '${needed}'; the token's role is '${role}'.`, 403, ERR_FORBIDDEN_ROLE, {
			wwwAuthenticate: bearerChallenge("insufficient_scope", `The role ${needed} is needed`)
		});
	}
}

/**
 * No key of the identity provider could be read (its JWKS endpoint is down, slow or answers
 * nonsense, and no earlier read succeeded), so no token can be checked (503). Not the caller's
 * fault, hence not a 401; `data.retryAfter` is the number of seconds until the keys are tried
 * again: the gateway sends it as `Retry-After`.
 */
export class IdentityProviderUnavailableError extends Errors.MoleculerRetryableError {
	constructor(retryAfterSeconds: number) {
		super(
			`The identity provider's keys could not be read, so no bearer token can be checked now; nothing was done. Try again in ${retryAfterSeconds} s.`,
			503,
			ERR_IDENTITY_PROVIDER_UNAVAILABLE,
			{ retryAfter: retryAfterSeconds }
		);
	}
}
