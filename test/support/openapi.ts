/**
 * Test helpers for the OpenAPI document: check it against the OpenAPI 3.1 schema, and read the
 * JSON Schema of a documented response so a test can validate a live response with ajv.
 */
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

/** What @seriousme/openapi-schema-validator says of a document. */
export interface OpenApiValidation {
	valid: boolean;
	/** The OpenAPI version it validated against, e.g. `3.1`. */
	version: string | null;
	errors: unknown;
}

/**
 * The validator is ESM only; jest runs these tests as CommonJS, where TypeScript turns `import()`
 * into `require()`. It runs in a child Node process instead: that works with and without
 * `--experimental-vm-modules`, and keeps the validator's own ajv apart from the product's.
 */
const VALIDATOR_SCRIPT = `
const { Validator } = await import(process.argv[1]);
let text = "";
for await (const chunk of process.stdin) text += chunk;
const validator = new Validator();
const result = await validator.validate(JSON.parse(text));
process.stdout.write(JSON.stringify({ valid: result.valid, version: validator.version ?? null, errors: result.errors ?? null }));
`;

/** Validates a document against the OpenAPI schema of its version (3.1 for ours). */
export function validateOpenApiDocument(document: unknown): Promise<OpenApiValidation> {
	const validatorUrl = pathToFileURL(require.resolve("@seriousme/openapi-schema-validator")).href;
	return runEsmScript<OpenApiValidation>("The OpenAPI validator", VALIDATOR_SCRIPT, [validatorUrl], document);
}

/**
 * Runs an ES module script in a child Node process with `args` (after the script, in
 * `process.argv`), writes `input` as JSON to its stdin and resolves with the JSON it printed.
 */
export function runEsmScript<T>(what: string, script: string, args: string[], input: unknown): Promise<T> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, ["--input-type=module", "--eval", script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", chunk => (stdout += chunk));
		child.stderr.on("data", chunk => (stderr += chunk));
		child.on("error", reject);
		child.on("close", code => {
			if (code !== 0) return reject(new Error(`${what} exited with ${code}: ${stderr}`));
			resolve(JSON.parse(stdout) as T);
		});
		child.stdin.end(JSON.stringify(input));
	});
}

type Json = Record<string, unknown>;

/** The object a local `$ref` (`#/components/...`) points to. */
function resolvePointer(document: Json, ref: string): unknown {
	if (!ref.startsWith("#/")) throw new Error(`Only local references are supported, not '${ref}'.`);
	return ref
		.slice(2)
		.split("/")
		.map(part => decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~"))
		.reduce<unknown>((node, part) => {
			if (node === null || typeof node !== "object" || !(part in node)) throw new Error(`The reference '${ref}' points nowhere.`);
			return (node as Json)[part];
		}, document);
}

/** A copy of `value` with every local `$ref` replaced by what it points to (the schemas have no cycles). */
export function inlineRefs(document: object, value: unknown, seen: readonly string[] = []): unknown {
	if (Array.isArray(value)) return value.map(item => inlineRefs(document, item, seen));
	if (value === null || typeof value !== "object") return value;
	const node = value as Json;
	if (typeof node.$ref === "string") {
		if (seen.includes(node.$ref)) throw new Error(`The reference '${node.$ref}' is circular.`);
		const { $ref, ...siblings } = node;
		const target = inlineRefs(document, resolvePointer(document as Json, $ref as string), [...seen, $ref as string]);
		// A 2020-12 `$ref` may have siblings (a description, say): keep both.
		return Object.keys(siblings).length === 0 ? target : { allOf: [target], ...(inlineRefs(document, siblings, seen) as Json) };
	}
	return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, inlineRefs(document, child, seen)]));
}

/**
 * The JSON Schema of a documented response, every `$ref` resolved: `method` as in HTTP (`GET`),
 * `openApiPath` as the document has it (`/api/orders/{id}`). The content type is the one
 * documented for that status (`application/json`, or `application/problem+json` for an error),
 * unless one is given. Throws when the document does not list that response.
 */
export function responseSchemaFor(document: object, method: string, openApiPath: string, status: number | string, contentType?: string): Json {
	const paths = (document as { paths?: Record<string, Record<string, { responses?: Record<string, unknown> }>> }).paths ?? {};
	const operation = paths[openApiPath]?.[method.toLowerCase()];
	if (!operation) throw new Error(`The document has no operation ${method.toUpperCase()} ${openApiPath}.`);
	let response = operation.responses?.[String(status)] as Json | undefined;
	if (!response) throw new Error(`${method.toUpperCase()} ${openApiPath} documents no ${status} response.`);
	if (typeof response.$ref === "string") response = resolvePointer(document as Json, response.$ref) as Json;
	const content = (response.content ?? {}) as Record<string, { schema?: unknown }>;
	const type = contentType ?? Object.keys(content)[0];
	const schema = type ? content[type]?.schema : undefined;
	if (!schema) throw new Error(`${method.toUpperCase()} ${openApiPath} documents no ${contentType ?? ""} body for ${status}.`);
	return inlineRefs(document, schema) as Json;
}

/** An ajv for JSON Schema 2020-12 (the dialect of OpenAPI 3.1), strict, with the formats the schemas use. */
export function createOpenApiAjv(): Ajv2020 {
	const ajv = new Ajv2020({ strict: true, allErrors: true });
	addFormats(ajv);
	return ajv;
}

/** Compiles the schema of a documented response (see {@link responseSchemaFor}) with {@link createOpenApiAjv}. */
export function responseValidatorFor(document: object, method: string, openApiPath: string, status: number | string): ValidateFunction {
	return createOpenApiAjv().compile(responseSchemaFor(document, method, openApiPath, status));
}
