/**
 * How an action's params schema becomes an operation's parameters and body, and what the gateway
 * takes of a request accordingly: the query parameters it hands on, and whether it reads a body.
 * Moleculer-web merges path params, the query string and the JSON body into one params object; this
 * splits the action's schema back: `:name`s of the path are path parameters, the other properties
 * are the query of a GET or DELETE and the JSON body of a POST or PUT.
 */
import { PRODUCT_KEYWORDS } from "../../lib/validation/ajv-validator";
import { REQUEST_SCHEMAS, type JsonSchema } from "./openapi.operations";
import { API_PATH, type ApiRoute } from "./routes";

/** A path or query parameter of an operation. */
export interface OpenApiParameter {
	name: string;
	in: "path" | "query" | "header";
	required: boolean;
	description?: string;
	schema: unknown;
}

/** An operation's request body: JSON, with the example the docs page pre-fills. */
export interface OpenApiRequestBody {
	required: boolean;
	content: Record<string, { schema: unknown; example?: unknown }>;
}

const BODY_METHODS = new Set<ApiRoute["method"]>(["POST", "PUT"]);

/** `/orders/:id/cancel` → `/api/orders/{id}/cancel`. */
export function toOpenApiPath(routePath: string): string {
	return API_PATH + routePath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

const queryNames = new Map<ApiRoute, ReadonlySet<string>>();

/** The query parameters a route's operation documents: the only ones the gateway hands on to its action. */
export function queryParameterNames(route: ApiRoute): ReadonlySet<string> {
	let names = queryNames.get(route);
	if (!names) {
		const { parameters } = splitParams(route, REQUEST_SCHEMAS[route.action] ?? null);
		names = new Set(parameters.filter(p => p.in === "query").map(p => p.name));
		queryNames.set(route, names);
	}
	return names;
}

/** True when a route's operation documents a request body: the gateway reads a body for those only. */
export function takesBody(route: ApiRoute): boolean {
	return splitParams(route, REQUEST_SCHEMAS[route.action] ?? null).body !== undefined;
}

/** Keywords whose value is a map of names to schemas: the names are no keywords. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "dependentSchemas"]);

/**
 * A schema as a standard JSON Schema validator reads it the way the product does, within what
 * such a validator can check: without the keywords only the product's validator knows
 * (`maxDecimals`; the field's description says the rule). The very object when it has none of them.
 */
export function publishedSchema<T>(schema: T, isMap = false): T {
	if (Array.isArray(schema)) {
		const items = schema.map(item => publishedSchema(item));
		return (items.some((item, i) => item !== schema[i]) ? items : schema) as T;
	}
	if (schema === null || typeof schema !== "object") return schema;
	let changed = false;
	const copy: Record<string, unknown> = {};
	for (const [key, value] of Object.entries(schema)) {
		if (!isMap && PRODUCT_KEYWORDS.includes(key)) {
			changed = true;
			continue;
		}
		copy[key] = publishedSchema(value, !isMap && SCHEMA_MAPS.has(key));
		if (copy[key] !== value) changed = true;
	}
	return (changed ? copy : schema) as T;
}

/**
 * Splits an action's params schema the way moleculer-web merges a request: the path's `:name`s,
 * then the query (GET, DELETE) or the JSON body (POST, PUT). A body that is the whole schema is
 * the schema object itself; one without the path params is a new object of the same property schemas.
 */
export function splitParams(
	route: Pick<ApiRoute, "method" | "path">,
	schema: JsonSchema | null
): { parameters: OpenApiParameter[]; body?: OpenApiRequestBody } {
	const pathNames = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map(match => match[1]);
	if (!schema) {
		if (pathNames.length > 0) throw new Error(`${route.method} ${route.path} has path params but its action takes none.`);
		return { parameters: [] };
	}
	const properties = (schema.properties ?? {}) as Record<string, unknown>;
	const required = new Set((schema.required ?? []) as string[]);
	const isBody = BODY_METHODS.has(route.method);
	// No path params: the whole schema is the body, whatever its shape.
	if (isBody && pathNames.length === 0) {
		return { parameters: [], body: { required: required.size > 0, content: { "application/json": { schema } } } };
	}
	const unknownKeys = Object.keys(schema).filter(key => !["type", "properties", "required", "additionalProperties"].includes(key));
	if (schema.type !== "object" || unknownKeys.length > 0) {
		throw new Error(`The params schema of ${route.method} ${route.path} is not a plain object schema; it cannot be split into parameters.`);
	}

	// A parameter shows its schema's description where tools look for it: on the parameter.
	const parameter = (name: string, where: "path" | "query", isRequired: boolean): OpenApiParameter => {
		const description = (properties[name] as { description?: unknown }).description;
		return { name, in: where, required: isRequired, ...(typeof description === "string" ? { description } : {}), schema: properties[name] };
	};
	const parameters: OpenApiParameter[] = pathNames.map(name => {
		if (!(name in properties)) throw new Error(`${route.method} ${route.path}: the path param '${name}' is not in its action's params schema.`);
		return parameter(name, "path", true);
	});
	const rest = Object.keys(properties).filter(name => !pathNames.includes(name));
	if (!isBody) {
		for (const name of rest) parameters.push(parameter(name, "query", required.has(name)));
		return { parameters };
	}
	if (rest.length === 0) return { parameters };
	const bodyRequired = rest.filter(name => required.has(name));
	const bodySchema: JsonSchema = {
		type: "object",
		...(schema.additionalProperties !== undefined ? { additionalProperties: schema.additionalProperties } : {}),
		...(bodyRequired.length > 0 ? { required: bodyRequired } : {}),
		properties: Object.fromEntries(rest.map(name => [name, properties[name]]))
	};
	return { parameters, body: { required: bodyRequired.length > 0, content: { "application/json": { schema: bodySchema } } } };
}
