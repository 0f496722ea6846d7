/**
 * Maps every error the gateway can meet to an RFC 9457 problem document: a status, a stable `type`,
 * a `title`, a `detail` a person can act on, and for validation the offending fields. Nothing from
 * the inside (stack, SQL, class names) reaches the client: an unexpected error is a plain 500.
 */
import { ERR_IDENTITY_PROVIDER_UNAVAILABLE } from "../../lib/auth/auth.errors";
import { BODY_LIMIT_BYTES } from "./routes";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export interface ProblemFieldError {
	field: string;
	message: string;
}

export interface Problem {
	type: string;
	title: string;
	status: number;
	detail: string;
	/** The `type`'s last part in capitals (lib/contracts/problems.ts lists them). */
	code: string;
	instance?: string;
	correlationId?: string;
	errors?: ProblemFieldError[];
	[extension: string]: unknown;
}

interface ErrorLike {
	name?: string;
	message?: string;
	code?: unknown;
	status?: unknown;
	type?: unknown;
	data?: unknown;
	limit?: unknown;
}

const problemType = (slug: string) => `urn:order-pipeline:problem:${slug}`;

/** `validation-error` → `VALIDATION_ERROR`: a problem's `code`, one to one with its `type`. */
export const problemCode = (slug: string) => slug.toUpperCase().replace(/-/g, "_");

/**
 * What a client told "timeout" can do: the request may still run (until its own timeout, never
 * after), so the way to learn its outcome is to send it again such that it cannot happen twice.
 */
export const REQUEST_TIMEOUT_DETAIL =
	"The request took too long and may still have been carried out. To learn its outcome, send it again: with the same Idempotency-Key header, POST /api/orders answers with the order the first attempt made instead of making another (without one it may make a second order); a cancel or a read is safe to repeat.";

/** Builds the problem document for an error; `unexpected` is true when it deserves an error log. */
export function toProblem(error: unknown, request: { method?: string; url?: string }): { problem: Problem; unexpected: boolean } {
	const err = (error ?? {}) as ErrorLike;
	const make = (status: number, slug: string, title: string, detail: string, extra: Partial<Problem> = {}) => ({
		// Extensions first: nothing in them may override the core members.
		problem: { ...extra, type: problemType(slug), title, status, detail, code: problemCode(slug) },
		unexpected: false
	});

	// body-parser's errors carry `status` and a dotted `type`.
	if (err.type === "entity.parse.failed") {
		return make(400, "malformed-json", "Malformed JSON", `The request body is not valid JSON: ${err.message}.`);
	}
	if (err.type === "entity.too.large") {
		const limit = typeof err.limit === "number" ? err.limit : BODY_LIMIT_BYTES;
		return make(413, "payload-too-large", "Request body too large", `The request body is larger than the limit of ${limit} bytes (${limit / 1024} kB).`);
	}
	// zlib's errors, through body-parser: the body is not encoded as its Content-Encoding says
	// (gzip and deflate: Z_*, zstd: ZSTD_*, brotli: ERR__ERROR_*).
	if (typeof err.code === "string" && /^(Z_|ZSTD_|ERR__ERROR_)/.test(err.code)) {
		return make(
			400,
			"invalid-content-encoding",
			"Body does not match its Content-Encoding",
			`The request body could not be decoded as its 'Content-Encoding' header declares (${err.message}); send it uncompressed, or encoded as declared.`,
			{ header: "Content-Encoding" }
		);
	}
	if (err.type === "encoding.unsupported" || err.type === "charset.unsupported") {
		return make(415, "unsupported-media-type", "Unsupported media type", `${err.message}.`);
	}

	switch (err.type) {
		case "UNABLE_DECODE_PARAM":
			return make(400, "invalid-path", "Bad request", `A part of the path ${request.url?.split("?")[0]} is not valid percent-encoded UTF-8.`);
		case "VALIDATION_ERROR": {
			const errors = Array.isArray(err.data)
				? (err.data as ProblemFieldError[]).map(e => ({ field: e.field, message: e.message }))
				: [];
			const summary = errors.map(e => `'${e.field}' ${e.message}`).join("; ");
			return make(400, "validation-error", "Invalid request", summary ? `Fix these fields: ${summary}.` : String(err.message), {
				errors
			});
		}
		case "NOT_FOUND":
			return make(404, "not-found", "Not found", `No route matches ${request.method} ${request.url?.split("?")[0]}.`);
		case "SERVICE_NOT_FOUND":
		case "SERVICE_NOT_AVAILABLE":
		case "SERVICE_UNAVAILABLE":
		case "REQUEST_REJECTED":
		case "BAD_GATEWAY":
			return make(503, "service-unavailable", "Service unavailable", "The service that handles this request is not available; try again shortly.");
		case "QUEUE_FULL":
			return make(
				503,
				"busy",
				"Service busy",
				"Too many requests of this kind are waiting on the node that handles them; nothing was done. Try again in a second."
			);
		case "REQUEST_TIMEOUT":
			return make(504, "timeout", "Timeout", REQUEST_TIMEOUT_DETAIL);
	}
	if (err.name === "ServiceUnavailableError") {
		return make(503, "service-unavailable", "Service unavailable", "The service that handles this request is not available; try again shortly.");
	}

	// moleculer-web's errors carry the status as `code`; others (body-parser's) as `status`.
	const status = Number.isInteger(err.code) ? Number(err.code) : Number(err.status);
	if (Number.isInteger(status) && status >= 400 && status < 500) {
		// The code (the error's type) lets a client tell refusals apart (e.g. MISSING_TOKEN, TOKEN_EXPIRED).
		return make(status, slugOf(err.type, status), titleOf(status), String(err.message));
	}
	// No token can be checked: the detail says when to come back (Retry-After says it too).
	if (err.type === ERR_IDENTITY_PROVIDER_UNAVAILABLE) {
		return make(503, "identity-provider-unavailable", titleOf(503), String(err.message));
	}
	// Our own readiness answer: a 503 that is expected, not logged as unexpected, and names nothing.
	if (err.type === "NOT_READY") {
		return make(503, "not-ready", titleOf(503), String(err.message));
	}
	return {
		problem: {
			type: problemType("internal-error"),
			title: "Internal error",
			status: 500,
			detail: "An unexpected error occurred. It has been logged; quote the correlation id when you report it.",
			code: problemCode("internal-error")
		},
		unexpected: true
	};
}

function slugOf(type: unknown, status: number): string {
	if (typeof type === "string" && type) return type.toLowerCase().replace(/[^a-z0-9]+/g, "-");
	return `http-${status}`;
}

const TITLES: Record<number, string> = {
	400: "Bad request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not found",
	405: "Method not allowed",
	409: "Conflict",
	413: "Request body too large",
	415: "Unsupported media type",
	422: "Unprocessable request",
	429: "Too many requests",
	503: "Service unavailable"
};

function titleOf(status: number): string {
	return TITLES[status] ?? "Request error";
}
