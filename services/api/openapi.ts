/**
 * The API's OpenAPI 3.1 document, made from the route table (`API_ROUTES`) and the very JSON
 * Schemas the actions validate their params with (less the keywords only the product's validator
 * knows, see {@link publishedSchema}): a schema changed in lib/contracts changes the document, and
 * a route added without saying what its action takes fails to build it. openapi.params.ts splits
 * each action's schema into parameters and body.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { HEADER_TOKEN_PATTERN, HeaderNames } from "../../lib/contracts/headers";
import { responseSchemas, type ResponseSchemaName } from "../../lib/contracts/responses";
import { API_CONTACT, API_DESCRIPTION, OPERATIONS, REQUEST_SCHEMAS, TAGS, type ErrorStatus, type JsonSchema, type OperationSpec } from "./openapi.operations";
import { problemExample } from "./openapi.examples";
import { PROBLEM_CONTENT_TYPE, REQUEST_TIMEOUT_DETAIL } from "./problem";
import { publishedSchema, queryParameterNames, splitParams, toOpenApiPath, type OpenApiParameter, type OpenApiRequestBody } from "./openapi.params";
import { API_ROUTES, BODY_LIMIT_BYTES, type ApiRoute } from "./routes";

export { REQUEST_SCHEMAS, type JsonSchema };
export { publishedSchema, queryParameterNames, splitParams, takesBody, toOpenApiPath, type OpenApiParameter } from "./openapi.params";

/** An OpenAPI document, typed as far as this module and its tests read it. */
export interface OpenApiDocument {
	openapi: string;
	info: { title: string; version: string; description: string; [key: string]: unknown };
	servers: Array<{ url: string; description?: string }>;
	security: Array<Record<string, string[]>>;
	tags: Array<{ name: string; description: string }>;
	paths: Record<string, Record<string, OpenApiOperation>>;
	components: {
		schemas: Record<string, unknown>;
		securitySchemes: Record<string, unknown>;
		parameters: Record<string, unknown>;
		headers: Record<string, unknown>;
	};
}

export interface OpenApiResponse {
	description: string;
	headers?: Record<string, unknown>;
	content?: Record<string, { schema: unknown; example?: unknown }>;
}

export interface OpenApiOperation {
	operationId: string;
	summary: string;
	description?: string;
	tags: string[];
	security?: Array<Record<string, string[]>>;
	parameters: Array<OpenApiParameter | { $ref: string }>;
	requestBody?: OpenApiRequestBody;
	responses: Record<string, OpenApiResponse>;
	"x-moleculer-action": string;
	"x-access": ApiRoute["access"];
}

const schemaRef = (name: ResponseSchemaName) => ({ $ref: `#/components/schemas/${name}` });
const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });

/** The API's OpenAPI 3.1 document, built afresh. It shares the actions' schema objects: read it, never change it. */
export function buildOpenApiDocument(): OpenApiDocument {
	const paths: OpenApiDocument["paths"] = {};
	for (const route of API_ROUTES) {
		const openApiPath = toOpenApiPath(route.path);
		paths[openApiPath] ??= {};
		paths[openApiPath][route.method.toLowerCase()] = operationOf(route);
	}
	return {
		openapi: "3.1.0",
		info: {
			title: "Order pipeline API",
			version: packageVersion(),
			description: API_DESCRIPTION,
			contact: API_CONTACT,
			license: { name: "MIT", identifier: "MIT" }
		},
		// Relative: the document works from whatever host and scheme serve it.
		servers: [{ url: "/", description: "The server that serves this document" }],
		security: [{ bearerAuth: [] }],
		tags: TAGS.map(({ name, description }) => ({ name, description })),
		paths,
		components: {
			schemas: publishedSchema({ ...responseSchemas }),
			securitySchemes: {
				bearerAuth: {
					type: "http",
					scheme: "bearer",
					bearerFormat: "JWT",
					description: "A JWT whose `sub` is the customer id and whose `role` is `customer` or `admin`."
				}
			},
			parameters: {
				CorrelationId: {
					name: HeaderNames.CorrelationId,
					in: "header",
					required: false,
					description: "Your id for this request; one that breaks the pattern is replaced by a new one.",
					schema: { type: "string", pattern: HEADER_TOKEN_PATTERN }
				},
				IdempotencyKey: {
					name: HeaderNames.IdempotencyKey,
					in: "header",
					required: false,
					description:
						"Makes the request safe to retry: the same key with the same body answers the first order again " +
						"(`Idempotent-Replayed: true`), with another body `422`. A key is kept for IDEMPOTENCY_KEY_TTL_MS (one day by default).",
					schema: { type: "string", pattern: HEADER_TOKEN_PATTERN }
				}
			},
			headers: {
				[HeaderNames.CorrelationId]: {
					description: "The request's correlation id: the caller's, or a new one.",
					required: true,
					schema: { type: "string", minLength: 1 }
				},
				[HeaderNames.Location]: {
					description: "The order's URL.",
					required: true,
					schema: { type: "string", format: "uri-reference" }
				},
				[HeaderNames.IdempotentReplayed]: {
					description: "`true` when the answer is the order first created with this Idempotency-Key; absent otherwise.",
					required: false,
					schema: { type: "string", enum: ["true"] }
				},
				[HeaderNames.RetryAfter]: {
					description: "Seconds to wait before the next request.",
					required: true,
					schema: { type: "integer", minimum: 0 }
				},
				[HeaderNames.WwwAuthenticate]: {
					description: "`Bearer`, with the reason a token was refused when one was sent.",
					required: true,
					schema: { type: "string", pattern: "^Bearer" }
				},
				[HeaderNames.RateLimitLimit]: {
					description: "Requests this caller may make a minute (RATE_LIMIT_PER_MINUTE). On every answer to a counted request while rate limiting is on.",
					required: false,
					schema: { type: "integer", minimum: 1 }
				},
				[HeaderNames.RateLimitRemaining]: {
					description: "Requests this caller has left in the current minute.",
					required: false,
					schema: { type: "integer", minimum: 0 }
				},
				[HeaderNames.RateLimitReset]: {
					description: "Seconds until this caller's count starts again.",
					required: false,
					schema: { type: "integer", minimum: 0 }
				}
			}
		}
	};
}

let cached: OpenApiDocument | undefined;

/** The document, built once per process (the routes and schemas do not change while it runs). */
export function openApiDocument(): OpenApiDocument {
	cached ??= buildOpenApiDocument();
	return cached;
}

/** `orders.create` → `ordersCreate`: an identifier code generators take as it is. */
export function operationIdOf(action: string): string {
	return action.replace(/\.([a-zA-Z])/g, (_, letter: string) => letter.toUpperCase());
}

function operationOf(route: ApiRoute): OpenApiOperation {
	const spec = OPERATIONS[route.action];
	if (!spec) throw new Error(`The OpenAPI document does not know what '${route.action}' answers: add it to OPERATIONS.`);
	if (!(route.action in REQUEST_SCHEMAS)) {
		throw new Error(`The OpenAPI document does not know what '${route.action}' takes: add it to REQUEST_SCHEMAS.`);
	}
	const params = REQUEST_SCHEMAS[route.action];
	const split = splitParams(route, params && publishedSchema(params));
	if (split.body) {
		if (!spec.requestExample) throw new Error(`The OpenAPI document has no example body for '${route.action}': add a requestExample to OPERATIONS.`);
		split.body = { ...split.body, content: { "application/json": { ...split.body.content["application/json"], example: spec.requestExample } } };
	}
	const parameters: OpenApiOperation["parameters"] = [...split.parameters];
	if (spec.idempotent) parameters.push({ $ref: "#/components/parameters/IdempotencyKey" });
	parameters.push({ $ref: "#/components/parameters/CorrelationId" });

	const operation: OpenApiOperation = {
		operationId: operationIdOf(route.action),
		summary: route.summary,
		description: describeOperation(route, spec),
		tags: [tagOf(route)],
		...(route.access === "public" ? { security: [] } : {}),
		parameters,
		...(split.body ? { requestBody: split.body } : {}),
		responses: responsesOf(route, spec, params !== null, split.body !== undefined),
		"x-moleculer-action": route.action,
		"x-access": route.access
	};
	return operation;
}

function describeOperation(route: ApiRoute, spec: OperationSpec): string {
	const parts = [spec.description, route.access === "admin" ? "Role `admin` only." : undefined, queryRule(route)];
	return parts.filter(Boolean).join(" ");
}

/** What the gateway does with query parameters the operation does not list (gateway-http.ts, `screenQuery`). */
function queryRule(route: ApiRoute): string {
	if (route.method === "GET") return "Query parameters it does not list are ignored (a cache-buster such as `?_=1700000000` is fine); one nested (`a[b]`) or given twice is a 400.";
	if (queryParameterNames(route).size === 0) return "It takes no query parameters: one sent is a 400.";
	return "A query parameter it does not list, one nested (`a[b]`) or one given twice is a 400: a mistyped filter never widens what it does.";
}

function tagOf(route: ApiRoute): string {
	const tag = TAGS.find(t => route.path === t.prefix || route.path.startsWith(`${t.prefix}/`));
	if (!tag) throw new Error(`No OpenAPI tag for the route ${route.method} ${route.path}: add one to TAGS.`);
	return tag.name;
}

function problemResponse(description: string, schema: ResponseSchemaName = "Problem", headers: string[] = []): OpenApiResponse {
	return {
		description,
		headers: Object.fromEntries([HeaderNames.CorrelationId, ...headers].map(name => [name, headerRef(name)])),
		content: { [PROBLEM_CONTENT_TYPE]: { schema: schemaRef(schema) } }
	};
}

function responsesOf(route: ApiRoute, spec: OperationSpec, hasParams: boolean, hasBody: boolean): Record<string, OpenApiResponse> {
	const responses: Record<string, OpenApiResponse> = {};
	const { ok } = spec;
	// A counted request's answer carries the caller's budget (when rate limiting is on).
	const budget = route.access === "public" ? [] : [HeaderNames.RateLimitLimit, HeaderNames.RateLimitRemaining, HeaderNames.RateLimitReset];
	responses[String(ok.status)] = {
		description: ok.description,
		headers: Object.fromEntries([HeaderNames.CorrelationId, ...(ok.headers ?? []), ...budget].map(name => [name, headerRef(name)])),
		content: { "application/json": { schema: typeof ok.schema === "string" ? schemaRef(ok.schema) : ok.schema } }
	};
	const own = (status: ErrorStatus, fallback?: string): OpenApiResponse | undefined => {
		const given = spec.errors?.[status];
		if (given === undefined) return fallback === undefined ? undefined : problemResponse(fallback);
		return typeof given === "string" ? problemResponse(fallback ? `${fallback} ${given}` : given) : problemResponse(given.description, given.schema);
	};
	const add = (status: number, response: OpenApiResponse | undefined) => {
		if (!response) return;
		// The example a docs page shows is the very problem the gateway writes for this status.
		const problem = response.content?.[PROBLEM_CONTENT_TYPE];
		if (problem) problem.example = problemExample(route, spec, status);
		responses[String(status)] = response;
	};

	// Every route screens its query string, so every route may answer 400.
	const causes: string[] = [];
	if (hasParams) causes.push("A field is invalid: `errors` lists each offending one (code `VALIDATION_ERROR`).");
	if (hasBody) causes.push("The body is not valid JSON, is nested too deep, or is not encoded as its `Content-Encoding` says.");
	if (spec.idempotent) causes.push("The Idempotency-Key header breaks its pattern.");
	causes.push(
		route.method === "GET"
			? "A query parameter is nested (`a[b]`) or given twice (code `INVALID_QUERY`)."
			: "A query parameter is not one this operation lists, or is nested (`a[b]`), or is given twice (code `INVALID_QUERY`)."
	);
	add(400, problemResponse(causes.length === 1 ? causes[0] : `One of:\n${causes.map(cause => `- ${cause}`).join("\n")}`));
	if (route.access !== "public") {
		add(401, problemResponse("No bearer token, or one that is invalid or expired.", "Problem", [HeaderNames.WwwAuthenticate]));
	}
	add(403, own(403, route.access === "admin" ? "The caller's role is not `admin`." : undefined));
	add(404, own(404));
	add(409, own(409));
	if (hasBody) {
		add(413, problemResponse(`The body is larger than ${BODY_LIMIT_BYTES / 1024} kB.`));
		add(415, problemResponse("The body is not JSON: send it with `Content-Type: application/json`."));
	}
	add(422, own(422));
	// Public routes (health, this document) are not counted against any caller.
	if (route.access !== "public") {
		add(429, problemResponse("Too many requests from this caller: wait as `Retry-After` says.", "Problem", [HeaderNames.RetryAfter, ...budget]));
	}
	if (route.access !== "public") {
		// Every authenticated route needs the identity provider's keys, whatever service answers it.
		const unreadableKeys = "the identity provider's keys could not be read (code `IDENTITY_PROVIDER_UNAVAILABLE`)";
		const causes = spec.local ? `No bearer token can be checked: ${unreadableKeys}` : `The service that handles this request is not available or too busy, or ${unreadableKeys}`;
		add(503, problemResponse(`${causes}: try again as \`Retry-After\` says.`, "Problem", [HeaderNames.RetryAfter]));
	} else {
		add(503, own(503, spec.local ? undefined : "The service that handles this request is not available, or too busy (`Retry-After`): try again shortly."));
	}
	if (!spec.local) add(504, problemResponse(REQUEST_TIMEOUT_DETAIL));
	return responses;
}

/** This product's version, from the package.json above this file (in the sources or in dist/). */
function packageVersion(): string {
	for (let dir = __dirname; ; dir = path.dirname(dir)) {
		const file = path.join(dir, "package.json");
		if (existsSync(file)) return String((JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version ?? "0.0.0");
		if (path.dirname(dir) === dir) return "0.0.0";
	}
}
