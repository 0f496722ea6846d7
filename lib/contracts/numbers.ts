/**
 * Whole numbers in a query string. The query parser hands every value on as a string, so a paging
 * parameter takes a JSON integer (an internal call) or its digits (HTTP), and both forms are held
 * to the same bounds: a standard validator reading the OpenAPI document then refuses exactly what
 * the product refuses.
 */

const PATTERN_MAXIMUM = new Map<string, number>();

/**
 * A regular expression for the digits of a whole number from 1 to `maximum`, without leading zeros
 * or anything else: `positiveIntegerPattern(500)` is `^(?:[1-9][0-9]{0,1}|[1-4][0-9]{2}|500)$`.
 */
export function positiveIntegerPattern(maximum: number): string {
	if (!Number.isSafeInteger(maximum) || maximum < 1) throw new Error(`A positive integer pattern needs a whole maximum >= 1, not ${maximum}.`);
	const digits = String(maximum);
	// Fewer digits than the maximum: any number.
	const branches = digits.length > 1 ? [`[1-9][0-9]{0,${digits.length - 2}}`] : [];
	// As many digits: the maximum's first i digits, then a smaller one, then any.
	for (let i = 0; i < digits.length; i++) {
		const low = i === 0 ? 1 : 0;
		const high = Number(digits[i]) - 1;
		if (high < low) continue;
		const rest = digits.length - i - 1;
		branches.push(`${digits.slice(0, i)}[${low}-${high}]${rest > 0 ? `[0-9]{${rest}}` : ""}`);
	}
	branches.push(digits);
	const pattern = `^(?:${branches.join("|")})$`;
	PATTERN_MAXIMUM.set(pattern, maximum);
	return pattern;
}

/** The maximum of a pattern {@link positiveIntegerPattern} made, for an error message; undefined for any other. */
export function maximumOfPositiveIntegerPattern(pattern: string): number | undefined {
	return PATTERN_MAXIMUM.get(pattern);
}

/** A whole number from 1 to `maximum`: a JSON integer, or its digits as a query string brings them. */
export function positiveIntegerParam(maximum: number, description?: string) {
	return {
		anyOf: [
			{ type: "integer", minimum: 1, maximum },
			{ type: "string", pattern: positiveIntegerPattern(maximum) }
		],
		...(description ? { description } : {})
	} as const;
}
