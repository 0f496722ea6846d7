import { maximumOfPositiveIntegerPattern, positiveIntegerParam, positiveIntegerPattern } from "../../../../lib/contracts/numbers";
import { createAjv, toFieldErrors } from "../../../../lib/validation/ajv-validator";

describe("Test 'positiveIntegerPattern'", () => {
	it.each([1, 9, 10, 20, 99, 100, 101, 500, 1000, 4321, 100_000])("should take exactly the digits of 1 to %i", maximum => {
		const pattern = new RegExp(positiveIntegerPattern(maximum));
		const wrong: number[] = [];
		for (let n = 0; n <= Math.min(maximum * 2, maximum + 5000); n++) {
			if (pattern.test(String(n)) !== (n >= 1 && n <= maximum)) wrong.push(n);
		}
		expect(wrong).toEqual([]);
		for (const text of ["01", "001", "-1", "+1", "1e2", "1.0", " 1", "1 ", "", "0x1", "１"]) expect(pattern.test(text)).toBe(false);
	});

	it("should take nine-digit numbers up to 999,999,999 and no more", () => {
		const pattern = new RegExp(positiveIntegerPattern(999_999_999));
		expect(["1", "123456789", "999999999"].every(text => pattern.test(text))).toBe(true);
		expect(["1000000000", "99999999999999999999", "0999999999"].some(text => pattern.test(text))).toBe(false);
	});

	it("should refuse a maximum that is not a whole number from 1", () => {
		for (const maximum of [0, -5, 1.5, Number.MAX_SAFE_INTEGER + 2]) expect(() => positiveIntegerPattern(maximum)).toThrow(/whole maximum/);
	});

	it("should remember the maximum of each pattern it made, for the error message", () => {
		expect(maximumOfPositiveIntegerPattern(positiveIntegerPattern(500))).toBe(500);
		expect(maximumOfPositiveIntegerPattern("^[1-9]$")).toBeUndefined();
	});
});

describe("Test 'positiveIntegerParam'", () => {
	const validate = createAjv().compile({ type: "object", properties: { pageSize: positiveIntegerParam(100) } });
	const errorsOf = (pageSize: unknown) => (validate({ pageSize }) ? [] : toFieldErrors(validate.errors));

	it("should hold a JSON integer and its digits to the same bounds", () => {
		for (const [value, ok] of [[1, true], [100, true], [101, false], [0, false], ["1", true], ["100", true], ["101", false], ["0", false]] as const) {
			expect([value, validate({ pageSize: value })]).toEqual([value, ok]);
		}
	});

	it("should say the bound once, for the type that was sent", () => {
		expect(errorsOf("101")).toEqual([{ field: "pageSize", message: "must be a whole number from 1 to 100, in digits", type: "pattern" }]);
		expect(errorsOf(101)).toEqual([{ field: "pageSize", message: "must be <= 100", type: "maximum" }]);
		expect(errorsOf(true).map(e => e.message)).toEqual(["must be integer", "must be string"]);
	});
});
