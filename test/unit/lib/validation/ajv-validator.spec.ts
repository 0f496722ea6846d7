import { listOrdersSchema } from "../../../../lib/contracts/orders";
import { ServiceBroker } from "moleculer";
import { AjvValidator, createAjv, toFieldErrors, type FieldError } from "../../../../lib/validation/ajv-validator";

const itemSchema = {
	type: "object",
	additionalProperties: false,
	required: ["sku", "quantity"],
	properties: {
		sku: { type: "string", minLength: 1 },
		quantity: { type: "integer", minimum: 1 }
	}
};

const orderSchema = {
	type: "object",
	additionalProperties: false,
	required: ["items", "currency"],
	properties: {
		items: { type: "array", items: itemSchema },
		currency: { enum: ["EUR", "USD"] },
		code: { type: "string", pattern: "^[A-Z]{3}$" }
	}
};

function errorsOf(data: unknown): FieldError[] {
	const validate = createAjv().compile(orderSchema);
	expect(validate(data)).toBe(false);
	return toFieldErrors(validate.errors);
}

describe("Test 'toFieldErrors'", () => {
	it("should name a missing nested property by its full path", () => {
		expect(errorsOf({ items: [{ quantity: 1 }], currency: "EUR" })).toEqual([
			{ field: "items[0].sku", message: "is required", type: "required" }
		]);
	});

	it("should name a missing top-level property by its name", () => {
		expect(errorsOf({ items: [] })).toEqual([{ field: "currency", message: "is required", type: "required" }]);
	});

	it("should name an extra property as a field that is not allowed", () => {
		expect(errorsOf({ items: [], currency: "EUR", discount: 10 })).toEqual([
			{ field: "discount", message: "is not an allowed field", type: "additionalProperties" }
		]);
	});

	it("should name an extra nested property by its full path", () => {
		expect(errorsOf({ items: [{ sku: "A", quantity: 1 }, { sku: "B", quantity: 1, colour: "red" }], currency: "EUR" })).toEqual([
			{ field: "items[1].colour", message: "is not an allowed field", type: "additionalProperties" }
		]);
	});

	it("should list the allowed values of an enum", () => {
		expect(errorsOf({ items: [], currency: "GBP" })).toEqual([
			{ field: "currency", message: "must be one of: EUR, USD", type: "enum" }
		]);
	});

	it("should show the expected pattern of a badly formatted value", () => {
		expect(errorsOf({ items: [], currency: "EUR", code: "abc" })).toEqual([
			{ field: "code", message: "has an invalid format (expected pattern ^[A-Z]{3}$)", type: "pattern" }
		]);
	});

	it("should keep ajv's message for other rules, at the offending index", () => {
		expect(errorsOf({ items: [{ sku: "A", quantity: 0 }], currency: "EUR" })).toEqual([
			{ field: "items[0].quantity", message: "must be >= 1", type: "minimum" }
		]);
	});

	it("should report every offending field at once", () => {
		const fields = errorsOf({ items: [{ quantity: 0 }], currency: "GBP" }).map(e => e.field);
		expect(fields.sort()).toEqual(["currency", "items[0].quantity", "items[0].sku"]);
	});

	it("should call a wrong top-level value the body", () => {
		expect(errorsOf("not an object")).toEqual([{ field: "(body)", message: "must be object", type: "type" }]);
	});

	it("should leave out anyOf summaries, repeated errors, and the type errors of the branches for types not sent", () => {
		const validate = createAjv().compile({
			type: "object",
			properties: { n: { anyOf: [{ type: "integer" }, { type: "string", pattern: "^[0-9]+$" }] } }
		});
		expect(validate({ n: "x" })).toBe(false);
		const errors = toFieldErrors(validate.errors);
		expect(errors.map(e => e.type)).not.toContain("anyOf");
		expect(errors).toEqual([{ field: "n", message: "has an invalid format (expected pattern ^[0-9]+$)", type: "pattern" }]);
		expect(toFieldErrors([...validate.errors!, ...validate.errors!])).toEqual(errors);
		// No branch is of the type sent: each says its own.
		expect(validate({ n: null })).toBe(false);
		expect(toFieldErrors(validate.errors).map(e => e.message)).toEqual(["must be integer", "must be string"]);
	});

	it("should answer page=0 of the orders list with one error naming the bound", () => {
		const validate = createAjv().compile(listOrdersSchema);
		expect(validate({ page: "0" })).toBe(false);
		const errors = toFieldErrors(validate.errors);
		expect(errors).toHaveLength(1);
		expect(errors[0]).toMatchObject({ field: "page", message: expect.stringMatching(/^must be a whole number from 1 to \d+/) });
	});

	it("should return no errors for null or undefined", () => {
		expect(toFieldErrors(null)).toEqual([]);
		expect(toFieldErrors(undefined)).toEqual([]);
	});

	it("should unescape '/' and '~' in property names", () => {
		const validate = createAjv().compile({
			type: "object",
			properties: { "a/b~c": { type: "integer" } }
		});
		expect(validate({ "a/b~c": "x" })).toBe(false);
		expect(toFieldErrors(validate.errors)).toEqual([{ field: "a/b~c", message: "must be integer", type: "type" }]);
	});
});

describe("Test 'AjvValidator'", () => {
	let validator: AjvValidator;

	beforeEach(() => {
		validator = new AjvValidator({});
		validator.init(new ServiceBroker({ logger: false }));
	});

	describe("compile", () => {
		it("should accept valid params of a JSON Schema", () => {
			const check = validator.compile(orderSchema) as unknown as (params: unknown) => unknown;
			expect(check({ items: [{ sku: "A", quantity: 2 }], currency: "EUR" })).toBe(true);
		});

		it("should list the offending fields of invalid params", () => {
			const check = validator.compile(orderSchema) as unknown as (params: unknown) => unknown;
			expect(check({ items: [{ sku: "A", quantity: 2 }], currency: "JPY" })).toEqual([
				{ field: "currency", message: "must be one of: EUR, USD", type: "enum" }
			]);
		});

		it("should compile a schema with an $id more than once", () => {
			const first = validator.compile({ $id: "test:thing", type: "object", required: ["a"], properties: { a: { type: "integer" } } }) as unknown as (params: unknown) => unknown;
			const second = validator.compile({ $id: "test:thing", type: "object", required: ["a"], properties: { a: { type: "integer" } } }) as unknown as (params: unknown) => unknown;
			expect(first({ a: 1 })).toBe(true);
			expect(second({})).toEqual([{ field: "a", message: "is required", type: "required" }]);
		});

		it("should hand a fastest-validator shorthand schema to Moleculer's validator", () => {
			const schema = { withServices: { type: "boolean", optional: true } };
			let check: unknown;
			expect(() => {
				check = validator.compile(schema);
			}).not.toThrow();
			const run = check as (params: unknown) => unknown;
			expect(run({ withServices: true })).toBe(true);
			expect(run({})).toBe(true);
			expect(Array.isArray(run({ withServices: "yes" }))).toBe(true);
		});

		it("should treat a shorthand field named 'type' as shorthand, not JSON Schema", () => {
			const check = validator.compile({ type: { type: "string" } }) as unknown as (params: unknown) => unknown;
			expect(check({ type: "x" })).toBe(true);
			expect(Array.isArray(check({ type: 5 }))).toBe(true);
		});
	});

	describe("validate", () => {
		it("should return true for valid params", () => {
			expect(validator.validate({ items: [], currency: "USD" }, orderSchema)).toBe(true);
		});

		it("should throw a ValidationError listing the offending fields", () => {
			let thrown: unknown;
			try {
				validator.validate({ items: [{ sku: "", quantity: 1 }], currency: "USD" }, orderSchema);
			} catch (err) {
				thrown = err;
			}
			expect(thrown).toMatchObject({
				name: "ValidationError",
				code: 422,
				type: "VALIDATION_ERROR",
				data: [{ field: "items[0].sku", message: "must NOT have fewer than 1 characters", type: "minLength" }]
			});
		});

		it("should validate a shorthand schema with Moleculer's validator", () => {
			const schema = { withServices: { type: "boolean", optional: true } };
			expect(validator.validate({ withServices: false }, schema)).toBe(true);
			expect(() => validator.validate({ withServices: 3 }, schema)).toThrow(/validation error/i);
		});
	});
});
