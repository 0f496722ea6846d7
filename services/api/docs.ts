/**
 * The browsable API page at `/api/docs`: Swagger UI from the swagger-ui-dist package, served by the
 * gateway itself (no CDN: it works offline) and pointed at `/api/openapi.json`. Only the files
 * listed here are served, by exact name; anything else under `/api/docs/` is not a docs path.
 *
 * The page runs under {@link DOCS_CONTENT_SECURITY_POLICY}: no inline script (the initializer is a
 * file of its own) and no inline style. Swagger UI's standalone preset is left out: its top bar's
 * logo is an SVG with an inline `<style>` element, which `style-src 'self'` refuses; the page uses
 * the base layout, whose styles are all in swagger-ui.css or set through the CSSOM (which CSP
 * does not govern).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { API_PATH } from "./routes";

/** Where the page is. */
export const DOCS_PATH = `${API_PATH}/docs`;

/** Where the page reads the document from. */
export const OPENAPI_DOCUMENT_PATH = `${API_PATH}/openapi.json`;

/**
 * The Content-Security-Policy the docs page needs, and no more: scripts and styles from this origin
 * only, no inline ones; `data:` images (swagger-ui.css draws its icons as data-URI SVGs); fetches
 * to this origin only (the document, and "Try it out" calls).
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' data:",
	"connect-src 'self'",
	"base-uri 'none'",
	"form-action 'none'",
	"frame-ancestors 'none'"
].join("; ");

/** One answer of the docs page: the gateway writes it as it is. */
export interface DocsResponse {
	status: number;
	contentType: string;
	body: Buffer | string;
	headers: Record<string, string>;
}

const CSS = "text/css; charset=utf-8";
const JAVASCRIPT = "text/javascript; charset=utf-8";
const PNG = "image/png";

const asset = (file: string) => `${DOCS_PATH}/${file}`;

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Order pipeline API</title>
<link rel="stylesheet" href="${asset("swagger-ui.css")}">
<link rel="stylesheet" href="${asset("index.css")}">
<link rel="icon" type="image/png" href="${asset("favicon-32x32.png")}" sizes="32x32">
<link rel="icon" type="image/png" href="${asset("favicon-16x16.png")}" sizes="16x16">
</head>
<body>
<noscript>This page needs JavaScript. The OpenAPI document is at <a href="${OPENAPI_DOCUMENT_PATH}">${OPENAPI_DOCUMENT_PATH}</a>.</noscript>
<div id="swagger-ui"></div>
<script src="${asset("swagger-ui-bundle.js")}"></script>
<script src="${asset("swagger-initializer.js")}"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to an online validator.
const INITIALIZER = `"use strict";
window.addEventListener("load", function () {
	window.ui = SwaggerUIBundle({
		url: ${JSON.stringify(OPENAPI_DOCUMENT_PATH)},
		dom_id: "#swagger-ui",
		deepLinking: true,
		presets: [SwaggerUIBundle.presets.apis],
		layout: "BaseLayout",
		validatorUrl: null,
		displayOperationId: true
	});
});
`;

/** The files under {@link DOCS_PATH}, by name: from swagger-ui-dist, or made here. */
const FILES = new Map<string, { contentType: string; dist?: string; text?: string }>([
	["swagger-ui.css", { contentType: CSS, dist: "swagger-ui.css" }],
	["index.css", { contentType: CSS, dist: "index.css" }],
	["swagger-ui-bundle.js", { contentType: JAVASCRIPT, dist: "swagger-ui-bundle.js" }],
	["swagger-initializer.js", { contentType: JAVASCRIPT, text: INITIALIZER }],
	["favicon-32x32.png", { contentType: PNG, dist: "favicon-32x32.png" }],
	["favicon-16x16.png", { contentType: PNG, dist: "favicon-16x16.png" }]
]);

const cache = new Map<string, Buffer>();

function distFile(name: string): Buffer {
	let body = cache.get(name);
	if (!body) {
		body = readFileSync(path.join(path.dirname(require.resolve("swagger-ui-dist/package.json")), name));
		cache.set(name, body);
	}
	return body;
}

const COMMON_HEADERS = { "X-Content-Type-Options": "nosniff" };

/**
 * The answer for a docs path (`/api/docs`, `/api/docs/`, or one of the files under it; a query
 * string is ignored), or `null` for any other path — a name not listed included, encoded or not,
 * so `/api/docs/../../package.json` is never read. The files are read once, on first use.
 */
export function docsResponse(requestPath: string): DocsResponse | null {
	const pathname = requestPath.split(/[?#]/)[0];
	if (pathname === DOCS_PATH || pathname === `${DOCS_PATH}/` || pathname === asset("index.html")) {
		return {
			status: 200,
			contentType: "text/html; charset=utf-8",
			body: PAGE,
			headers: { ...COMMON_HEADERS, "Cache-Control": "no-cache", "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY }
		};
	}
	if (!pathname.startsWith(`${DOCS_PATH}/`)) return null;
	const file = FILES.get(pathname.slice(DOCS_PATH.length + 1));
	if (!file) return null;
	return {
		status: 200,
		contentType: file.contentType,
		body: file.text ?? distFile(file.dist!),
		// The names carry no version: cache for an hour, so an upgrade shows soon enough.
		headers: { ...COMMON_HEADERS, "Cache-Control": "public, max-age=3600" }
	};
}
