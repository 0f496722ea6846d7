/**
 * The gateway in front of an identity provider that stalls or fails: a request is never held longer
 * than the key read's timeout, no key at all is a 503 with Retry-After (not a 401), and the last good
 * keys keep serving once the provider fails again.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from "jose";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";
import { bearer } from "../support/auth";
import { responseValidatorFor } from "../support/openapi";
import { openApiDocument } from "../../services/api/openapi";

describe("Gateway authentication when the identity provider stalls or fails", () => {
	let system: RunningSystem;
	let provider: Server;
	let providerRequests = 0;
	let answer: (res: ServerResponse) => void;
	let privateKey: KeyLike;
	let publicJwk: JWK;
	const issuer = "https://id.example.com/";
	const audience = "order-pipeline";
	const READ_TIMEOUT_MS = 300;

	const stall = (res: ServerResponse) => {
		res.writeHead(200, { "Content-Type": "application/json" });
		res.write('{"keys": [');
	};
	const serveKeys = (res: ServerResponse) => {
		res.setHeader("Content-Type", "application/json");
		res.end(JSON.stringify({ keys: [publicJwk] }));
	};
	const providerToken = () =>
		new SignJWT({ role: "customer" })
			.setProtectedHeader({ alg: "ES256", kid: "k1" })
			.setSubject("c-idp-down")
			.setIssuer(issuer)
			.setAudience(audience)
			.setIssuedAt()
			.setExpirationTime("5m")
			.sign(privateKey);

	beforeAll(async () => {
		const pair = await generateKeyPair("ES256");
		privateKey = pair.privateKey as KeyLike;
		publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
		answer = stall;
		provider = createServer((_req, res) => {
			providerRequests += 1;
			answer(res);
		});
		await new Promise<void>(resolve => provider.listen(0, "127.0.0.1", resolve));
		const port = (provider.address() as AddressInfo).port;
		system = await startSystem({
			env: {
				JWT_SECRET: "",
				JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
				JWT_ISSUER: issuer,
				JWT_AUDIENCE: audience,
				RATE_LIMIT_PER_MINUTE: "100"
			},
			// A short read timeout keeps the test short; a refresh interval of 0 makes every request start a background read.
			adjustSettings: settings => {
				const api = settings.api as { jwt: Record<string, unknown> };
				api.jwt = { ...api.jwt, keySet: { timeoutMs: READ_TIMEOUT_MS, refreshIntervalMs: 0 } };
			}
		});
	});
	afterAll(async () => {
		await system?.stop();
		provider?.closeAllConnections();
		await new Promise(resolve => provider?.close(resolve));
	});

	const ordersWith = (token: string) => system.anonymous().get("/api/orders").set("Authorization", bearer(token));

	it("When no key could be read, Then an authenticated request gets a 503 problem with Retry-After within the read timeout, counted by the rate limit", async () => {
		const token = await providerToken();
		const started = Date.now();
		const first = await ordersWith(token);
		const second = await ordersWith(token);

		expect(Date.now() - started).toBeLessThan(2 * READ_TIMEOUT_MS + 1500);
		expect(providerRequests).toBeGreaterThanOrEqual(1);
		for (const res of [first, second]) {
			expect(res.status).toBe(503);
			expect(res.headers["content-type"]).toContain("application/problem+json");
			expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
			expect(res.headers["www-authenticate"]).toBeUndefined();
			expect(res.body).toMatchObject({
				type: "urn:order-pipeline:problem:identity-provider-unavailable",
				title: "Service unavailable",
				status: 503,
				code: "IDENTITY_PROVIDER_UNAVAILABLE",
				detail: expect.stringMatching(/^The identity provider's keys could not be read.*Try again in \d+ s\.$/)
			});
		}
		expect(Number(second.headers["ratelimit-remaining"])).toBe(Number(first.headers["ratelimit-remaining"]) - 1);
		// The answer is the one the OpenAPI document promises.
		const validate = responseValidatorFor(openApiDocument(), "get", "/api/orders", 503);
		expect(validate(first.body) ? [] : validate.errors).toEqual([]);
	});

	it("should still answer 401 for a token that is no JWT, whatever the provider's state", async () => {
		expect((await system.anonymous().get("/api/orders").set("Authorization", "Bearer not-a-jwt")).status).toBe(401);
	});

	it("When the provider recovers and then fails again, Then its last good keys keep serving", async () => {
		answer = serveKeys;
		const token = await providerToken();
		// The next read waits for the backoff (a second at most) to pass.
		await waitFor("the provider's keys to be read", async () => (await ordersWith(token)).status === 200 || undefined, 10_000);

		answer = res => res.writeHead(500).end();
		const before = providerRequests;
		for (let i = 0; i < 3; i++) expect((await ordersWith(token)).status).toBe(200);
		await waitFor("a failed background read", () => providerRequests > before || undefined);
		expect((await ordersWith(token)).status).toBe(200);
	});
});
