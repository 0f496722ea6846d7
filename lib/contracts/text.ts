/**
 * Free text as PostgreSQL can store it and a person can read it: no control characters (NUL among
 * them, which PostgreSQL refuses in text) and no unpaired UTF-16 surrogate (which is no character
 * at all, and which PostgreSQL refuses too). ajv compiles patterns with the `u` flag, under which a
 * correctly paired surrogate is one code point above U+FFFF and matches; a lone one does not.
 */
export const PLAIN_TEXT_PATTERN = "^[^\\u0000-\\u001F\\u007F\\uD800-\\uDFFF]*$";

/** What a person is told when a string breaks {@link PLAIN_TEXT_PATTERN}. */
export const PLAIN_TEXT_RULE = "must not contain control characters (such as NUL) or unpaired surrogates";

/** A JSON Schema for a non-empty plain-text string of at most `maxLength` characters. */
export function plainText(maxLength: number) {
	return { type: "string", minLength: 1, maxLength, pattern: PLAIN_TEXT_PATTERN } as const;
}
