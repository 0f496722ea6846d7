/**
 * The two addresses a person tries first: `/` sends a browser to the docs page, and `/api` answers
 * an API client with where everything is. Answered by the gateway itself, like the docs page: no
 * action, no token, not counted against a rate limit.
 */
import { DOCS_PATH, OPENAPI_DOCUMENT_PATH, type DocsResponse } from "./docs";
import { API_PATH } from "./routes";

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
