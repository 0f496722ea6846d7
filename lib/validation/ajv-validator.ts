import Ajv, { _, str, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { Errors, Validators } from "moleculer";
import { MAX_DECIMALS_KEYWORD, hasAtMostDecimals } from "../contracts/money";
import { maximumOfPositiveIntegerPattern } from "../contracts/numbers";
import { PLAIN_TEXT_PATTERN, PLAIN_TEXT_RULE } from "../contracts/text";

type CheckerFunction = ReturnType<InstanceType<typeof Validators.Base>["compile"]>;
/** What a compiled schema answers in truth: `true`, or the offending fields (possibly a promise of them). */
type Checker = ((params: unknown, options: { meta: unknown }) => true | FieldError[] | Promise<true | FieldError[]>) & { async?: boolean };
type Handler = (ctx: { params?: unknown }) => unknown;
/** A middleware hook wrapping an action's or an event's handler. */
type Guard = (handler: Handler, definition: { params?: unknown }) => Handler;

/** One offending field, as the API reports it. */
export interface FieldError {
	field: string;
	message: string;
	type: string;
}

/**
 * Moleculer's `ValidationError` (400 at the gateway, never retried) whose message names the
 * offending fields, and whose stack is that message alone: bad params are the caller's mistake,
 * and a stack through the validator and the middlewares tells nobody anything (moleculer-repl's
 * `call` prints an error's stack whole, 20 lines above the fields). Its name stays
 * `ValidationError`, which the dead letters, the metrics and a remote node's broker read.
 */
export class ParamsValidationError extends Errors.ValidationError {
	constructor(fields: FieldError[]) {
		const summary = fields.map(f => `'${f.field}' ${f.message}`).join("; ");
		super(summary ? `Parameters validation error: ${summary}.` : "Parameters validation error.", "VALIDATION_ERROR", fields);
		this.name = "ValidationError";
		this.stack = `${this.name}: ${this.message}`;
	}
}

/** The JSON Schema keywords only this product's validator knows; the OpenAPI document leaves them out. */
export const PRODUCT_KEYWORDS: readonly string[] = [MAX_DECIMALS_KEYWORD];

/** A shared ajv instance: every schema of the product is compiled by the same rules. */
export function createAjv(): Ajv {
	const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: false, coerceTypes: false });
	addFormats(ajv);
	// `"maxDecimals": n`: what `multipleOf` cannot say of money (lib/contracts/money.ts).
	ajv.addKeyword({
		keyword: MAX_DECIMALS_KEYWORD,
		type: "number",
		schemaType: "number",
		validate: (decimals: number, value: number) => hasAtMostDecimals(value, decimals),
		error: {
			message: ({ schema }) => str`must have at most ${String(schema)} decimals`,
			params: ({ schema }) => _`{ maxDecimals: ${schema as number} }`
		}
	});
	return ajv;
}

/** Turns ajv's errors into `{ field, message }` pairs a person can act on. */
export function toFieldErrors(errors: ErrorObject[] | null | undefined): FieldError[] {
	const seen = new Set<string>();
	const result: FieldError[] = [];
	const all = errors ?? [];
	for (const err of all) {
		// anyOf reports each branch; its own summary says enough.
		if (err.keyword === "anyOf") continue;
		if (isOtherTypesBranch(err, all)) continue;
		const field = fieldPath(err);
		const message = describe(err);
		const key = `${field}|${message}`;
		if (seen.has(key)) continue;
		seen.add(key);
		result.push({ field, message, type: err.keyword });
	}
	return result;
}

/**
 * True for the `type` error of an anyOf branch when another branch of the same anyOf, the one for
 * the type that was sent, says what is wrong: `pageSize=0` is "must be a whole number from 1 to
 * 100", not also "must be integer".
 */
function isOtherTypesBranch(err: ErrorObject, all: ErrorObject[]): boolean {
	const branch = /^(.*\/anyOf\/)\d+\/type$/.exec(err.schemaPath);
	if (!branch || err.keyword !== "type") return false;
	return all.some(other => other !== err && other.instancePath === err.instancePath && other.keyword !== "type" && other.schemaPath.startsWith(branch[1]));
}

function fieldPath(err: ErrorObject): string {
	const base = err.instancePath
		.split("/")
		.slice(1)
		.map(part => part.replace(/~1/g, "/").replace(/~0/g, "~"))
		.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), "");
	if (err.keyword === "required") {
		const missing = (err.params as { missingProperty: string }).missingProperty;
		return base ? `${base}.${missing}` : missing;
	}
	if (err.keyword === "additionalProperties") {
		const extra = (err.params as { additionalProperty: string }).additionalProperty;
		return base ? `${base}.${extra}` : extra;
	}
	return base || "(body)";
}

function describe(err: ErrorObject): string {
	switch (err.keyword) {
		case "required":
			return "is required";
		case "additionalProperties":
			return "is not an allowed field";
		case "enum":
			return `must be one of: ${(err.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`;
		case "pattern": {
			const { pattern } = err.params as { pattern: string };
			if (pattern === PLAIN_TEXT_PATTERN) return PLAIN_TEXT_RULE;
			const maximum = maximumOfPositiveIntegerPattern(pattern);
			if (maximum !== undefined) return `must be a whole number from 1 to ${maximum}, in digits`;
			return `has an invalid format (expected pattern ${pattern})`;
		}
		default:
			return err.message ?? "is invalid";
	}
}

/**
 * Moleculer validator backed by ajv: an action's or event's `params` is a JSON Schema, and a call
 * with bad params is rejected with Moleculer's `ValidationError` (422, not retried) whose `data`
 * lists the offending fields.
 */
export class AjvValidator extends Validators.Base {
	private readonly ajv = createAjv();
	private readonly cache = new WeakMap<object, ValidateFunction>();
	// Moleculer's internal services ($node.*) declare params in fastest-validator's shorthand.
	private readonly moleculerStyle = new Validators.Fastest({});

	init(broker: ConstructorParameters<typeof Validators.Base>[0] & object): void {
		super.init(broker as never);
		this.moleculerStyle.init(broker as never);
	}

	// Moleculer's checker contract: `true`, or the list of errors (its typings say boolean only).
	compile(schema: Record<string, unknown>): CheckerFunction {
		if (!isJsonSchema(schema)) return this.moleculerStyle.compile(schema);
		const validate = this.compileSchema(schema);
		return ((params: unknown) => (validate(params) ? true : toFieldErrors(validate.errors))) as unknown as CheckerFunction;
	}

	validate(params: unknown, schema: Record<string, unknown>): boolean {
		if (!isJsonSchema(schema)) return this.moleculerStyle.validate(params as Record<string, unknown>, schema);
		const validate = this.compileSchema(schema);
		if (validate(params)) return true;
		throw new ParamsValidationError(toFieldErrors(validate.errors));
	}

	/**
	 * Moleculer's validator middleware (the `params` of each local action and event), rejecting bad
	 * params with a {@link ParamsValidationError}: Moleculer's own throws a bare "Parameters
	 * validation error!" with its stack.
	 */
	middleware(): { name: string; localAction: Guard; localEvent: Guard } {
		return { name: "Validator", localAction: this.guard, localEvent: this.guard };
	}

	/** The handler, behind a check of its `params` schema when it has one. */
	private readonly guard: Guard = (handler, definition) => {
		const schema = definition.params;
		if (!schema || typeof schema !== "object") return handler;
		const check = this.compile(schema as Record<string, unknown>) as unknown as Checker;
		const decide = (ctx: { params?: unknown }, result: true | FieldError[]) =>
			result === true ? handler(ctx) : Promise.reject(new ParamsValidationError(result));
		return ctx => {
			const result = check(ctx.params ?? {}, { meta: ctx });
			return check.async ? (result as Promise<true | FieldError[]>).then(r => decide(ctx, r)) : decide(ctx, result as true | FieldError[]);
		};
	};

	convertSchemaToMoleculer(schema: Record<string, unknown>): Record<string, unknown> {
		return schema;
	}

	private compileSchema(schema: Record<string, unknown>): ValidateFunction {
		let validate = this.cache.get(schema);
		if (!validate) {
			// `$id`s are global in ajv; reuse a schema already known under the same id.
			const id = typeof schema.$id === "string" ? schema.$id : undefined;
			validate = (id && this.ajv.getSchema(id)) || this.ajv.compile(schema);
			this.cache.set(schema, validate);
		}
		return validate;
	}
}

/** A JSON Schema describes an object at its top; fastest-validator's shorthand lists fields. */
function isJsonSchema(schema: Record<string, unknown>): boolean {
	return ["type", "properties", "anyOf", "oneOf", "allOf", "$ref", "$id"].some(key => key in schema) &&
		(typeof schema.type !== "object" || schema.type === null);
}
