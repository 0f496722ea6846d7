import { SignJWT, decodeJwt } from "jose";
import { createTokenVerifier, isSubject, mintToken, type TokenSettings } from "../../../../lib/auth/tokens";

const SECRET = "unit-test-secret-0123456789abcdef-0123456789";
const key = new TextEncoder().encode(SECRET);
const settings: TokenSettings = { secret: SECRET, clockToleranceSeconds: 30, maxTokenLifetimeSeconds: 3600 };
/** A fixed instant, so that no test depends on the machine's clock. */
const NOW_S = 1_900_000_000;

const signed = (claims: Record<string, unknown>) => new SignJWT({ role: "customer", sub: "c-1", ...claims }).setProtectedHeader({ alg: "HS256" }).sign(key);
const verifier = createTokenVerifier(settings, { now: () => NOW_S * 1000 });
const refusalOf = async (token: string) => verifier.callerOf(`Bearer ${token}`).then(
	caller => {
		throw new Error(`accepted as ${JSON.stringify(caller)}`);
	},
	(err: { code: number; type: string; message: string }) => err
);

describe("Test 'isSubject'", () => {
	it.each([["c-1"], ["Zoë Müller"], ["顧客-42"], ["x' OR '1'='1"], ["c".repeat(100)], ["😀 emoji"]])("should accept %j", sub => {
		expect(isSubject(sub)).toBe(true);
	});

	it.each([
		["empty", ""],
		["too long", "c".repeat(101)],
		["NUL", "c\u0000"],
		["DEL", "c\u007f"],
		["a C1 control", "c\u0085"],
		["a right-to-left override", "c-1\u202Eevil"],
		["a left-to-right embedding", "\u202Ac-1"],
		["a first-strong isolate", "c\u2068-1"],
		["a pop directional isolate", "c-1\u2069"],
		["a zero-width space", "c\u200B-1"],
		["a byte order mark", "\uFEFFc-1"],
		["a line separator", "c-1\u2028c-2"],
		["a paragraph separator", "c-1\u2029"],
		["a lone surrogate", "c\uD800"],
		["a number", 42]
	])("should refuse %s", (_case, sub) => {
		expect(isSubject(sub)).toBe(false);
	});
});

describe("Test 'createTokenVerifier' with a secret", () => {
	it("should accept a token within the clock of the verifier, and take the caller from its claims", async () => {
		const token = await signed({ iat: NOW_S - 60, exp: NOW_S + 600, role: "admin" });
		await expect(verifier.callerOf(`Bearer ${token}`)).resolves.toEqual({ sub: "c-1", role: "admin" });
	});

	it("should judge expiry by the injected clock, not the machine's", async () => {
		const token = await signed({ iat: NOW_S - 600, exp: NOW_S - 60 });
		expect(await refusalOf(token)).toMatchObject({ code: 401, type: "TOKEN_EXPIRED" });
	});

	it("should refuse a token living longer than the maximum, and accept one of exactly that lifetime", async () => {
		const tooLong = await refusalOf(await signed({ iat: NOW_S, exp: NOW_S + 3601 }));
		expect(tooLong).toMatchObject({ code: 401, type: "INVALID_TOKEN" });
		expect(tooLong.message).toContain("the token lives 3601 s (exp - iat), longer than the 3600 s this API accepts (JWT_MAX_TTL_S)");
		await expect(verifier.callerOf(`Bearer ${await signed({ iat: NOW_S, exp: NOW_S + 3600 })}`)).resolves.toMatchObject({ sub: "c-1" });
	});

	it("should refuse a token without 'iat', saying why it is needed", async () => {
		const refused = await refusalOf(await signed({ exp: NOW_S + 600 }));
		expect(refused).toMatchObject({ code: 401, type: "INVALID_TOKEN" });
		expect(refused.message).toContain("the claim 'iat' is missing: this API needs to know when a token was issued");
	});

	it("should refuse a token issued in the future beyond the clock tolerance, and accept one within it", async () => {
		const refused = await refusalOf(await signed({ iat: NOW_S + 31, exp: NOW_S + 600 }));
		expect(refused).toMatchObject({ code: 401, type: "INVALID_TOKEN" });
		expect(refused.message).toContain("the claim 'iat' is in the future");
		await expect(verifier.callerOf(`Bearer ${await signed({ iat: NOW_S + 30, exp: NOW_S + 600 })}`)).resolves.toMatchObject({ sub: "c-1" });
	});

	it("should refuse a subject with a right-to-left override (U+202E)", async () => {
		const refused = await refusalOf(await signed({ sub: "c-1\u202Eevil", iat: NOW_S, exp: NOW_S + 600 }));
		expect(refused).toMatchObject({ code: 401, type: "INVALID_TOKEN" });
		expect(refused.message).toContain("the claim 'sub' must be a customer id");
	});

	it("should call a pasted placeholder such as the README's eyJ… a token that is not a JWT, not a bad header", async () => {
		for (const token of ["eyJ…", "not-a-jwt", "a.b", "a.b.c.d"]) {
			const refused = await refusalOf(token);
			expect(refused).toMatchObject({ code: 401, type: "INVALID_TOKEN" });
			expect(refused.message).toContain("the token is not a JWT (three base64url parts separated by dots)");
		}
	});

	it("should call a header without a token, or of another scheme, not 'Bearer <token>'", async () => {
		for (const header of ["Bearer", "Basic dXNlcjpwdw==", "Bearer a.b.c d.e.f"]) {
			const refused = await verifier.callerOf(header).catch((err: Error) => err);
			expect((refused as Error).message).toContain("the Authorization header is not 'Bearer <token>'");
		}
	});

	it("should say a token of another secret does not verify, and nothing about runs when JWT_SECRET is set", async () => {
		const other = await new SignJWT({ role: "customer", sub: "c-1", iat: NOW_S, exp: NOW_S + 600 })
			.setProtectedHeader({ alg: "HS256" })
			.sign(new TextEncoder().encode("another-secret-0123456789abcdef-0123456789"));
		const refused = await refusalOf(other);
		expect(refused.message).toContain("the signature does not verify.");
		expect(refused.message).not.toContain("JWT_SECRET");
	});

	it("should say why a token of an earlier run fails when the node made its own secret", async () => {
		const earlierRun = await new SignJWT({ role: "customer", sub: "c-1", iat: NOW_S, exp: NOW_S + 600 })
			.setProtectedHeader({ alg: "HS256" })
			.sign(new TextEncoder().encode("the-secret-of-an-earlier-run-0123456789abcdef"));
		const thisRun = createTokenVerifier({ ...settings, secretMadeForRun: true }, { now: () => NOW_S * 1000 });
		const refused = (await thisRun.callerOf(`Bearer ${earlierRun}`).catch((err: Error) => err)) as Error;
		expect(refused.message).toContain(
			"the signature does not verify. No JWT_SECRET is set, so this node made a new secret when it started: a token printed by an earlier run no longer works."
		);
	});
});

describe("Test 'mintToken'", () => {
	it("should give a token whose exp - iat is exactly the lifetime asked for", async () => {
		const claims = decodeJwt(await mintToken(SECRET, { sub: "c-1", role: "customer", ttlSeconds: 86_400 }));
		expect(claims.exp! - claims.iat!).toBe(86_400);
	});
});
