/**
 * Money as the API takes it: a JSON number with at most two decimals (whole cents).
 *
 * JSON Schema's `multipleOf: 0.01` cannot say that: 19.99 / 0.01 is 1998.9999999999998 in binary
 * floating point, so a validator without ajv's `multipleOfPrecision` (Prism, a plain ajv, most
 * client generators) refuses 1,363 of the 10,001 prices from 0.00 to 100.00 that are fine. The
 * product checks cents with a keyword of its own, {@link MAX_DECIMALS_KEYWORD}, which
 * lib/validation/ajv-validator.ts defines; the OpenAPI document leaves that keyword out and says the
 * rule in the field's description.
 */

/** The product's own JSON Schema keyword: `"maxDecimals": 2` takes a number of at most two decimals. */
export const MAX_DECIMALS_KEYWORD = "maxDecimals";

/**
 * True when `value` has at most `decimals` decimals. A value a float operation left a hair off
 * (0.1 + 0.2 = 0.30000000000000004) still counts as its cents, as ajv's `multipleOfPrecision: 9`
 * counted it before: within 1e-9 of a whole number once scaled.
 */
export function hasAtMostDecimals(value: number, decimals: number): boolean {
	const scaled = value * 10 ** decimals;
	return Math.abs(Math.round(scaled) - scaled) <= 1e-9;
}

/** A JSON Schema for an amount from 0 to `maximum` in whole cents; `description` says what it is. */
export function moneyAmount(maximum: number, description: string) {
	return {
		type: "number",
		minimum: 0,
		maximum,
		[MAX_DECIMALS_KEYWORD]: 2,
		description: `${description} At most 2 decimals (whole cents): a value with more is refused with a 400 naming the field.`
	} as const;
}
