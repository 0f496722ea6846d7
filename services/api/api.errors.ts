import { Errors } from "moleculer";

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

/** A query parameter no route of this API can have: nested (`a[b]`), or not a plain name (400). */
export class InvalidQueryParameterError extends Errors.MoleculerClientError {
	constructor(name: string) {
		const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
		super(
			`Query parameter '${shown.replace(/[^\x20-\x7e]/g, "?")}' is not accepted: this API's parameters are plain names of letters and digits (e.g. status, page), each given once.`,
			400,
			ERR_INVALID_QUERY,
			{ parameter: shown }
		);
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
