import { Errors } from "moleculer";
import type { QueryRefusal } from "./gateway-http";

export const ERR_UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE";
export const ERR_INVALID_HEADER = "INVALID_HEADER";
export const ERR_NOT_READY = "NOT_READY";
export const ERR_METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED";
export const ERR_BODY_TOO_DEEP = "BODY_TOO_DEEP";
export const ERR_INVALID_QUERY = "INVALID_QUERY";

/** A body was sent in something other than JSON (415). */
export class UnsupportedMediaTypeError extends Errors.MoleculerClientError {
	constructor(contentType: string | undefined) {
		super(
			`The request body must be JSON: send it with 'Content-Type: application/json'${contentType ? ` (got '${contentType}')` : ""}.`,
			415,
			ERR_UNSUPPORTED_MEDIA_TYPE,
			{ contentType }
		);
	}
}

/** A request header the API reads has an unusable value (400). */
export class InvalidHeaderError extends Errors.MoleculerClientError {
	constructor(header: string, rule: string) {
		super(`Header '${header}' ${rule}.`, 400, ERR_INVALID_HEADER, { header });
	}
}

/** A query parameter the operation does not take: nested (`a[b]`), given twice, or (but on a GET) not one it lists (400). */
export class InvalidQueryParameterError extends Errors.MoleculerClientError {
	constructor(name: string, reason: QueryRefusal, operation: string, known: ReadonlySet<string>) {
		const shown = (name.length > 40 ? `${name.slice(0, 40)}…` : name).replace(/[^\x20-\x7e]/g, "?");
		const takes = known.size > 0 ? `it takes ${[...known].join(", ")}` : "it takes none";
		const why = {
			nested: "a query parameter of this API is a plain name, never nested",
			repeated: "give it once",
			unknown: `it is not one ${operation} takes (${takes})`
		}[reason];
		super(`Query parameter '${shown}' is not accepted: ${why}.`, 400, ERR_INVALID_QUERY, { parameter: shown, reason });
	}
}

/** A known path asked with a method it does not answer (405); `Allow` lists those it does. */
export class MethodNotAllowedError extends Errors.MoleculerClientError {
	constructor(method: string, path: string, allow: string[]) {
		super(`${path} does not answer ${method}; it answers ${allow.join(", ")}.`, 405, ERR_METHOD_NOT_ALLOWED, { allow });
	}
}

/** A JSON body nested deeper than any request of this API needs (400). */
export class BodyTooDeepError extends Errors.MoleculerClientError {
	constructor(maxDepth: number) {
		super(`The request body is nested more than ${maxDepth} levels deep; no request of this API needs that.`, 400, ERR_BODY_TOO_DEEP, {
			maxDepth
		});
	}
}

/**
 * This node is not ready (503). It names no dependency: the public learns only that it should try
 * again or elsewhere; the metrics port's `/health/ready` says which check failed.
 */
export class NotReadyError extends Errors.MoleculerError {
	constructor() {
		super("This node is not ready to serve requests; retry shortly (or through another node).", 503, ERR_NOT_READY);
	}
}
