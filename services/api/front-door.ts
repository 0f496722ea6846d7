/**
 * The two addresses a person tries first: `/` sends a browser to the docs page, and `/api` answers
 * an API client with where everything is. Answered by the gateway itself, like the docs page: no
 * action, no token, not counted against a rate limit. {@link writeFixedAnswer} writes both kinds.
 */
import type { ServerResponse } from "node:http";
import { MethodNotAllowedError } from "./api.errors";
import { DOCS_PATH, OPENAPI_DOCUMENT_PATH, type DocsResponse } from "./docs";
import type { GatewayRequest } from "./gateway-http";
import { API_PATH, pathOf } from "./routes";

/** What `GET /api` answers. */
export interface ApiIndex {
	name: string;
	docs: string;
	openapi: string;
	health: string;
}

export const API_INDEX: ApiIndex = {
	name: "order-pipeline",
	docs: DOCS_PATH,
	openapi: OPENAPI_DOCUMENT_PATH,
	health: `${API_PATH}/health/ready`
};

// The answers may change with a release: a browser asks again each time rather than remember them.
const NO_CACHE = { "Cache-Control": "no-cache" };

/**
 * The answer for `/` (a `302` to the docs page) or `/api` (the index), given the path as
 * `pathOf` makes it (no query string, no trailing slash); `null` for any other path.
 */
export function frontDoorResponse(path: string): DocsResponse | null {
	if (path === "/") {
		return {
			status: 302,
			contentType: "text/plain; charset=utf-8",
			body: `Found: ${DOCS_PATH}\n`,
			headers: { ...NO_CACHE, Location: DOCS_PATH }
		};
	}
	if (path === API_PATH) {
		return { status: 200, contentType: "application/json; charset=utf-8", body: JSON.stringify(API_INDEX), headers: NO_CACHE };
	}
	return null;
}

/** The methods a fixed answer takes. */
const FIXED_ANSWER_METHODS = ["GET", "HEAD", "OPTIONS"];

/**
 * Writes a fixed answer (the docs page and its files, `/`, `/api`): `GET` and `HEAD` (without a
 * body), `OPTIONS`. Any other method is refused: the error to answer, which nothing was written for.
 */
export function writeFixedAnswer(req: GatewayRequest, res: ServerResponse, answer: DocsResponse): MethodNotAllowedError | null {
	const method = req.method ?? "GET";
	if (method === "OPTIONS") {
		res.setHeader("Allow", FIXED_ANSWER_METHODS.join(", "));
		res.writeHead(204);
		res.end();
		return null;
	}
	if (!FIXED_ANSWER_METHODS.includes(method)) return new MethodNotAllowedError(method, pathOf(req.url), [...FIXED_ANSWER_METHODS]);
	for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
	res.setHeader("Content-Type", answer.contentType);
	res.writeHead(answer.status);
	res.end(method === "HEAD" ? undefined : answer.body);
	return null;
}
