/**
 * The `code` of every problem document the API answers with (services/api/problem.ts makes them):
 * its `type`'s last part in capitals, `urn:order-pipeline:problem:validation-error` →
 * `VALIDATION_ERROR`. The OpenAPI document lists them; a unit test checks every error class's code
 * and every problem the gateway makes itself is here.
 */
export const PROBLEM_CODES = {
	VALIDATION_ERROR: [400, "a field is invalid; `errors` lists each"],
	MALFORMED_JSON: [400, "the body is not valid JSON"],
	INVALID_CONTENT_ENCODING: [400, "the body is not encoded as its `Content-Encoding` says"],
	BODY_TOO_DEEP: [400, "the body nests deeper than any request needs"],
	INVALID_PATH: [400, "the path is not valid percent-encoded UTF-8"],
	INVALID_QUERY: [400, "a query parameter is nested, repeated, or (but on a GET) not one the operation lists"],
	INVALID_HEADER: [400, "a header the API reads breaks its pattern (`header` names it)"],
	MISSING_TOKEN: [401, "no bearer token"],
	INVALID_TOKEN: [401, "the token is malformed, or its signature, issuer or audience is wrong"],
	TOKEN_EXPIRED: [401, "the token has expired"],
	FORBIDDEN_ROLE: [403, "the route needs the role `admin`"],
	FORBIDDEN_CUSTOMER: [403, "a customer named another customer"],
	NOT_FOUND: [404, "no route has this path"],
	ORDER_NOT_FOUND: [404, "no order has this id, or it is another customer's"],
	SKU_NOT_FOUND: [404, "no SKU has this name"],
	DEAD_LETTER_NOT_FOUND: [404, "no dead letter has this id"],
	METHOD_NOT_ALLOWED: [405, "the path does not answer this method (`Allow` lists those it does)"],
	ORDER_NOT_CANCELLABLE: [409, "the order's status forbids a cancellation"],
	IDEMPOTENCY_KEY_IN_FLIGHT: [409, "a request with this Idempotency-Key is still being processed"],
	DEAD_LETTER_NOT_REPLAYABLE: [409, "the dead letter is not signed with the cluster key"],
	PAYLOAD_TOO_LARGE: [413, "the body is larger than the limit"],
	UNSUPPORTED_MEDIA_TYPE: [415, "the body is not JSON, or not in UTF-8"],
	IDEMPOTENCY_KEY_REUSED: [422, "the Idempotency-Key was used with another body"],
	RATE_LIMITED: [429, "this caller's requests of the minute are spent"],
	SERVICE_UNAVAILABLE: [503, "the service that handles the request is not available"],
	BUSY: [503, "too many requests of this kind wait on the node that handles them"],
	IDENTITY_PROVIDER_UNAVAILABLE: [503, "no key of the identity provider could be read"],
	NOT_READY: [503, "this node is not ready"],
	TIMEOUT: [504, "the request took too long and may still have been carried out"],
	INTERNAL_ERROR: [500, "an unexpected error, logged"]
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

/** The list of codes, in Markdown, for the OpenAPI document. */
export function describeProblemCodes(): string {
	return Object.entries(PROBLEM_CODES)
		.map(([code, [status, when]]) => `- \`${code}\` (${status}): ${when}`)
		.join("\n");
}
