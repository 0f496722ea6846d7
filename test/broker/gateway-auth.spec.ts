/**
 * Who may call what, over HTTP on the real services: bearer JWTs signed with JWT_SECRET (HS256) or by
 * an identity provider (JWKS), each way a token can be wrong, the roles of the admin routes, and the
 * routes open to anyone.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from "jose";
import { startSystem, type RunningSystem } from "../support/system";
import { TEST_JWT_SECRET, bearer, tokenFor } from "../support/auth";

const secretKey = new TextEncoder().encode(TEST_JWT_SECRET);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A token with any header, claims and key (issued now unless `iat` is given): the ways a client can get one wrong. */
async function signed(claims: Record<string, unknown>, options: { alg?: string; key?: Uint8Array | KeyLike } = {}): Promise<string> {
	return new SignJWT({ iat: nowSeconds(), ...claims }).setProtectedHeader({ alg: options.alg ?? "HS256" }).sign(options.key ?? secretKey);
}

describe("Gateway authentication and roles", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		system = await startSystem();
	});
	afterAll(async () => {
		await system?.stop();
	});

	const ordersWith = (authorization?: string) => {
		const req = system.anonymous().get("/api/orders");
		return authorization === undefined ? req : req.set("Authorization", authorization);
	};
	const expectRefused = (res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }, code: string) => {
		expect(res.status).toBe(401);
		expect(res.headers["content-type"]).toContain("application/problem+json");
		expect(res.headers["www-authenticate"]).toMatch(/^Bearer realm="order-pipeline"/);
		expect(res.body).toMatchObject({ status: 401, title: "Unauthorized", code });
		expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(js|ts):\d+/);
	};

	describe("a request without a usable token", () => {
		it("should answer 401 with WWW-Authenticate: Bearer and MISSING_TOKEN when no token is sent", async () => {
			const res = await ordersWith();
			expectRefused(res, "MISSING_TOKEN");
			expect(res.headers["www-authenticate"]).toBe('Bearer realm="order-pipeline"');
			expect(res.body.detail).toContain("Authorization: Bearer");
		});

		it.each([
			["another scheme", "Basic YWRtaW46YWRtaW4="],
			["an empty bearer", "Bearer "],
			["a token that is not a JWT", "Bearer not-a-jwt"],
			["two tokens", "Bearer a.b.c d.e.f"]
		])("should answer 401 for %s", async (_case, header) => {
			const res = await ordersWith(header);
			expect(res.status).toBe(401);
			expect(res.headers["www-authenticate"]).toMatch(/^Bearer realm="order-pipeline"/);
		});

		it("should refuse alg: none", async () => {
			const token = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: "c-1", role: "admin", exp: nowSeconds() + 600 })}.`;
			const res = await ordersWith(bearer(token));
			expectRefused(res, "INVALID_TOKEN");
			expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
		});

		it("should refuse another algorithm, even with the right secret", async () => {
			const token = await signed({ sub: "c-1", role: "customer", exp: nowSeconds() + 600 }, { alg: "HS512" });
			expectRefused(await ordersWith(bearer(token)), "INVALID_TOKEN");
		});

		it("should refuse a token signed with another secret, and one whose claims were changed after signing", async () => {
			const other = await signed({ sub: "c-1", role: "admin", exp: nowSeconds() + 600 }, { key: new TextEncoder().encode("x".repeat(40)) });
			expectRefused(await ordersWith(bearer(other)), "INVALID_TOKEN");

			const [header, , signature] = (await tokenFor("c-1", "customer")).split(".");
			const forged = `${header}.${base64url({ sub: "c-1", role: "admin", exp: nowSeconds() + 600 })}.${signature}`;
			const res = await ordersWith(bearer(forged));
			expectRefused(res, "INVALID_TOKEN");
			expect(res.body.detail).toContain("signature");
		});

		it("should refuse a token expired beyond the clock tolerance, and accept one just within it", async () => {
			const expired = await signed({ sub: "c-1", role: "customer", exp: nowSeconds() - 120 });
			const res = await ordersWith(bearer(expired));
			expectRefused(res, "TOKEN_EXPIRED");
			expect(res.headers["www-authenticate"]).toContain('error_description="The token has expired"');

			// JWT_CLOCK_TOLERANCE_S is 30 by default: a clock a few seconds ahead of the issuer's is fine.
			const justExpired = await signed({ sub: "c-1", role: "customer", exp: nowSeconds() - 5 });
			expect((await ordersWith(bearer(justExpired))).status).toBe(200);
		});

		it.each([
			["sub", { role: "customer", exp: nowSeconds() + 600 }],
			["exp", { sub: "c-1", role: "customer" }],
			["role", { sub: "c-1", exp: nowSeconds() + 600 }],
			// An undefined claim is left out of the token.
			["iat", { sub: "c-1", role: "customer", exp: nowSeconds() + 600, iat: undefined }]
		])("should refuse a token without '%s'", async (claim, claims) => {
			const res = await ordersWith(bearer(await signed(claims)));
			expectRefused(res, "INVALID_TOKEN");
			expect(res.body.detail).toContain(`'${claim}'`);
		});

		it.each([
			["an unknown role", { sub: "c-1", role: "root" }],
			["a role that is not a string", { sub: "c-1", role: ["admin"] }],
			["a subject with control characters", { sub: "c-1\u0000", role: "customer" }],
			["an empty subject", { sub: "", role: "customer" }],
			["a subject longer than a customer id", { sub: "c".repeat(101), role: "customer" }],
			["a subject with a right-to-left override (U+202E)", { sub: "c-1\u202Eevil", role: "customer" }],
			["a subject with a bidi isolate (U+2066)", { sub: "\u2066admin", role: "customer" }],
			["a subject with a line separator (U+2028)", { sub: "c-1\u2028c-2", role: "customer" }]
		])("should refuse %s", async (_case, claims) => {
			const res = await ordersWith(bearer(await signed({ ...claims, exp: nowSeconds() + 600 })));
			expectRefused(res, "INVALID_TOKEN");
		});

		it("should refuse a token that is not yet valid (nbf) beyond the clock tolerance", async () => {
			const early = await signed({ sub: "c-1", role: "customer", exp: nowSeconds() + 600, nbf: nowSeconds() + 300 });
			expectRefused(await ordersWith(bearer(early)), "INVALID_TOKEN");
		});

		it("should refuse a token living longer than JWT_MAX_TTL_S (exp - iat), and accept one of exactly that lifetime", async () => {
			const issued = nowSeconds();
			const res = await ordersWith(bearer(await signed({ sub: "c-1", role: "customer", iat: issued, exp: issued + 86_401 })));
			expectRefused(res, "INVALID_TOKEN");
			expect(res.body.detail).toContain("longer than the 86400 s this API accepts");
			expect((await ordersWith(bearer(await signed({ sub: "c-1", role: "customer", iat: issued, exp: issued + 86_400 })))).status).toBe(200);
		});

		it("should refuse a token issued in the future beyond the clock tolerance", async () => {
			const res = await ordersWith(bearer(await signed({ sub: "c-1", role: "customer", iat: nowSeconds() + 300, exp: nowSeconds() + 600 })));
			expectRefused(res, "INVALID_TOKEN");
			expect(res.body.detail).toContain("'iat' is in the future");
		});

		it("should refuse an Authorization header longer than any token", async () => {
			expectRefused(await ordersWith(`Bearer ${"a".repeat(9000)}`), "INVALID_TOKEN");
		});
	});

	describe("roles", () => {
		it("should refuse every admin route to a customer with 403, and run none of them", async () => {
			const customer = await system.httpAs("c-roles", "customer");
			const stockBefore = (await system.http().get("/api/admin/stock/SKU-0009")).body;

			const answers = await Promise.all([
				customer.get("/api/admin/stock/SKU-0009"),
				customer.put("/api/admin/stock/SKU-0009").send({ available: 1 }),
				customer.get("/api/admin/dead-letters"),
				customer.get("/api/admin/dead-letters/1"),
				customer.post("/api/admin/dead-letters/1/replay"),
				customer.post("/api/admin/dead-letters/replay"),
				customer.delete("/api/admin/dead-letters/1"),
				customer.delete("/api/admin/dead-letters")
			]);

			for (const res of answers) {
				expect(res.status).toBe(403);
				expect(res.headers["content-type"]).toContain("application/problem+json");
				expect(res.body).toMatchObject({ status: 403, code: "FORBIDDEN_ROLE" });
				expect(res.headers["www-authenticate"]).toContain('error="insufficient_scope"');
			}
			expect((await system.http().get("/api/admin/stock/SKU-0009")).body).toEqual(stockBefore);
		});

		it("should let an admin call the admin routes", async () => {
			const admin = system.http();
			expect((await admin.put("/api/admin/stock/SKU-0009").send({ available: 77 })).status).toBe(200);
			expect((await admin.get("/api/admin/stock/SKU-0009")).body).toMatchObject({ available: 77 });
			expect((await admin.get("/api/admin/dead-letters")).status).toBe(200);
		});

		it("should refuse the admin routes without a token with 401, not 403", async () => {
			expectRefused(await system.anonymous().get("/api/admin/stock/SKU-0009"), "MISSING_TOKEN");
		});
	});

	describe("routes open to anyone", () => {
		it("should answer the health routes without a token, and ignore a bad one there", async () => {
			expect((await system.anonymous().get("/api/health/live")).status).toBe(200);
			expect((await system.anonymous().get("/api/health/ready")).status).toBe(200);
			expect((await system.anonymous().get("/api/health/live").set("Authorization", "Bearer nonsense")).status).toBe(200);
		});
	});
});

describe("Gateway authentication with an identity provider (JWKS, issuer, audience)", () => {
	let system: RunningSystem;
	let jwks: Server;
	let privateKey: KeyLike;
	const issuer = "https://id.example.com/";
	const audience = "order-pipeline";

	const providerToken = async (claims: Record<string, unknown>, key: KeyLike = privateKey, kid = "k1") =>
		new SignJWT({ role: "customer", ...claims })
			.setProtectedHeader({ alg: "RS256", kid })
			.setSubject("c-idp")
			.setIssuer((claims.iss as string) ?? issuer)
			.setAudience((claims.aud as string) ?? audience)
			.setIssuedAt()
			.setExpirationTime("5m")
			.sign(key);

	beforeAll(async () => {
		const pair = await generateKeyPair("RS256");
		privateKey = pair.privateKey as KeyLike;
		const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
		jwks = createServer((_req, res) => {
			res.setHeader("Content-Type", "application/json");
			res.end(JSON.stringify({ keys: [publicJwk] }));
		});
		await new Promise<void>(resolve => jwks.listen(0, "127.0.0.1", resolve));
		const port = (jwks.address() as AddressInfo).port;
		system = await startSystem({
			env: { JWT_SECRET: "", JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`, JWT_ISSUER: issuer, JWT_AUDIENCE: audience }
		});
	});
	afterAll(async () => {
		await system?.stop();
		await new Promise(resolve => jwks?.close(resolve));
	});

	const ordersWith = (token: string) => system.anonymous().get("/api/orders").set("Authorization", bearer(token));

	it("should accept the provider's token with the configured issuer and audience", async () => {
		expect((await ordersWith(await providerToken({}))).status).toBe(200);
	});

	it.each([
		["another audience", { aud: "someone-else" }],
		["another issuer", { iss: "https://evil.example.com/" }]
	])("should refuse a token for %s", async (_case, claims) => {
		const res = await ordersWith(await providerToken(claims));
		expect(res.status).toBe(401);
		expect(res.body.code).toBe("INVALID_TOKEN");
	});

	it("should refuse a token signed by a key the provider does not publish", async () => {
		const stranger = (await generateKeyPair("RS256")).privateKey as KeyLike;
		const res = await ordersWith(await providerToken({}, stranger));
		expect(res.status).toBe(401);
	});

	it("should refuse an HS256 token, whatever its secret (no symmetric algorithm from a key set)", async () => {
		const res = await ordersWith(await tokenFor("c-idp", "admin"));
		expect(res.status).toBe(401);
		expect(res.body.detail).toContain("algorithm");
	});
});
