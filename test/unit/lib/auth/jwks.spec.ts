/**
 * An identity provider's key set read from a real HTTP server on 127.0.0.1: one that stalls, fails,
 * answers too much or rotates its keys. The clock of the key set is the test's, so refresh intervals,
 * cool-downs and backoffs pass without sleeping; only the read timeout is real (300 ms).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from "jose";
import { createTokenVerifier, type TokenVerifier } from "../../../../lib/auth/tokens";
import { backoffMs, createRemoteKeySet } from "../../../../lib/auth/jwks";

const ISSUER = "https://id.example.com/";
const AUDIENCE = "order-pipeline";
const TIMEOUT_MS = 300;
const MINUTE = 60_000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A JWKS endpoint whose answer each test sets, counting the requests it gets. */
class FakeProvider {
	requests = 0;
	answer: Handler = () => undefined;
	private server!: Server;
	url = "";

	async start(): Promise<this> {
		this.server = createServer((req, res) => {
			this.requests += 1;
			this.answer(req, res);
		});
		await new Promise<void>(resolve => this.server.listen(0, "127.0.0.1", resolve));
		this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
		return this;
	}

	async stop(): Promise<void> {
		this.server.closeAllConnections();
		await new Promise(resolve => this.server.close(resolve));
	}
}

const json = (body: unknown, status = 200): Handler => (_req, res) => {
	res.writeHead(status, { "Content-Type": "application/json" });
	res.end(typeof body === "string" ? body : JSON.stringify(body));
};

describe("Test 'createTokenVerifier' with an identity provider's key set", () => {
	let provider: FakeProvider;
	let clock: number;
	let signingKey: KeyLike;
	let otherKey: KeyLike;
	let publicJwk: JWK;
	let otherJwk: JWK;
	const verifiers: TokenVerifier[] = [];

	beforeAll(async () => {
		const pair = await generateKeyPair("ES256");
		const other = await generateKeyPair("ES256");
		signingKey = pair.privateKey as KeyLike;
		otherKey = other.privateKey as KeyLike;
		publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
		otherJwk = { ...(await exportJWK(other.publicKey)), kid: "k2", alg: "ES256", use: "sig" };
	});
	beforeEach(async () => {
		clock = 1_900_000_000_000;
		provider = await new FakeProvider().start();
	});
	afterEach(async () => {
		for (const verifier of verifiers.splice(0)) verifier.close();
		await provider.stop();
	});

	/** A verifier of the provider's tokens, on the test's clock, with a 300 ms read timeout. */
	const verifierFor = (url = provider.url) => {
		const verifier = createTokenVerifier(
			{ jwksUrl: url, issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 30, maxTokenLifetimeSeconds: 86_400, keySet: { timeoutMs: TIMEOUT_MS } },
			{ now: () => clock }
		);
		verifiers.push(verifier);
		return verifier;
	};
	const tokenOf = (kid = "k1", key = signingKey) => {
		const issuedAt = Math.floor(clock / 1000);
		return new SignJWT({ role: "customer" })
			.setProtectedHeader({ alg: "ES256", kid })
			.setSubject("c-idp")
			.setIssuer(ISSUER)
			.setAudience(AUDIENCE)
			.setIssuedAt(issuedAt)
			.setExpirationTime(issuedAt + 3600)
			.sign(key);
	};
	const outcomeOf = async (verifier: TokenVerifier, token: string) =>
		verifier.callerOf(`Bearer ${token}`).then(
			caller => ({ status: 200, caller, message: "", retryAfter: undefined as number | undefined }),
			(err: { code: number; message: string; data?: { retryAfter?: number } }) => ({ status: err.code, caller: undefined, message: err.message, retryAfter: err.data?.retryAfter })
		);

	it("should accept a token signed by a published key", async () => {
		provider.answer = json({ keys: [publicJwk] });
		expect(await outcomeOf(verifierFor(), await tokenOf())).toMatchObject({ status: 200, caller: { sub: "c-idp", role: "customer" } });
		expect(provider.requests).toBe(1);
	});

	it("When the provider sends headers and then stalls, Then a request is answered 503 within the read timeout, not held", async () => {
		provider.answer = (_req, res) => {
			res.writeHead(200, { "Content-Type": "application/json" });
			res.write('{"keys": [');
		};
		const started = Date.now();
		const outcome = await outcomeOf(verifierFor(), await tokenOf());
		const elapsed = Date.now() - started;

		expect(outcome.status).toBe(503);
		expect(outcome.message).toMatch(/^The identity provider's keys could not be read.*Try again in \d+ s\.$/);
		expect(outcome.retryAfter).toBeGreaterThanOrEqual(1);
		expect(provider.requests).toBe(1);
		expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
		expect(elapsed).toBeLessThan(TIMEOUT_MS + 1500);
	});

	it("When the provider is down from the start (connection refused), Then a request gets 503 with a Retry-After, not 401", async () => {
		const url = provider.url;
		await provider.stop();
		const outcome = await outcomeOf(verifierFor(url), await tokenOf());
		expect(outcome).toMatchObject({ status: 503, retryAfter: expect.any(Number) });
		provider = await new FakeProvider().start();
	});

	it.each([
		["with its length announced", (body: string): Handler => json(body)],
		["streamed without a length", (body: string): Handler => (_req, res) => {
			res.writeHead(200, { "Content-Type": "application/json" });
			for (let at = 0; at < body.length; at += 16_384) res.write(body.slice(at, at + 16_384));
			res.end();
		}]
	])("should refuse a key set larger than 256 KiB %s (503 without earlier keys)", async (_case, answer) => {
		const padded = JSON.stringify({ keys: [publicJwk], padding: "x".repeat(300 * 1024) });
		provider.answer = answer(padded);
		expect(await outcomeOf(verifierFor(), await tokenOf())).toMatchObject({ status: 503 });
	});

	it.each([
		["an HTTP 500", json({ error: "down" }, 500)],
		["a body that is not JSON", json("<html>maintenance</html>")],
		["JSON that is no key set", json({ issuer: ISSUER })],
		["a redirect", ((_req, res) => res.writeHead(302, { Location: "http://elsewhere.example/jwks" }).end()) as Handler]
	])("should answer 503 when the first read gets %s", async (_case, answer) => {
		provider.answer = answer;
		expect(await outcomeOf(verifierFor(), await tokenOf())).toMatchObject({ status: 503 });
	});

	it("When the provider fails after one good read, Then tokens keep verifying with the last good keys", async () => {
		provider.answer = json({ keys: [publicJwk] });
		const verifier = verifierFor();
		expect((await outcomeOf(verifier, await tokenOf())).status).toBe(200);

		provider.answer = json({ error: "down" }, 500);
		clock += 11 * MINUTE; // past the refresh interval: this request starts a read in the background
		expect((await outcomeOf(verifier, await tokenOf())).status).toBe(200);
		await verifier.prepare(); // joins that read
		expect(provider.requests).toBe(2);
		expect((await outcomeOf(verifier, await tokenOf())).status).toBe(200);
	});

	it("When the provider is down, Then a token with an unknown kid gets a 401 (no matching key) within the timeout, and the known keys still work", async () => {
		provider.answer = json({ keys: [publicJwk] });
		const verifier = verifierFor();
		expect((await outcomeOf(verifier, await tokenOf())).status).toBe(200);

		provider.answer = (_req, res) => res.writeHead(200).write("{");
		const started = Date.now();
		const unknown = await outcomeOf(verifier, await tokenOf("k9", otherKey));
		expect(unknown.status).toBe(401);
		expect(unknown.message).toContain("no key of the identity provider matches the token");
		expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
		expect(provider.requests).toBe(2);
		expect((await outcomeOf(verifier, await tokenOf())).status).toBe(200);
	});

	it("should read again for an unknown kid at most once per cool-down, and take a rotated key", async () => {
		provider.answer = json({ keys: [publicJwk] });
		const verifier = verifierFor();
		expect((await outcomeOf(verifier, await tokenOf())).status).toBe(200);

		// The provider rotates: k2 is published, and tokens signed with it arrive.
		provider.answer = json({ keys: [publicJwk, otherJwk] });
		expect((await outcomeOf(verifier, await tokenOf("k2", otherKey))).status).toBe(200);
		expect(provider.requests).toBe(2);

		// A made-up kid: one read, then none for 30 s however many such tokens come.
		clock += 31_000;
		for (let i = 0; i < 5; i++) expect((await outcomeOf(verifier, await tokenOf(`fake-${i}`, otherKey))).status).toBe(401);
		expect(provider.requests).toBe(3);
		clock += 31_000;
		expect((await outcomeOf(verifier, await tokenOf("fake-again", otherKey))).status).toBe(401);
		expect(provider.requests).toBe(4);
	});

	it("When a read failed, Then rapid requests cause no other read until the backoff passed", async () => {
		provider.answer = json({ error: "down" }, 500);
		const verifier = verifierFor();
		expect((await outcomeOf(verifier, await tokenOf())).status).toBe(503);
		expect(provider.requests).toBe(1);

		const token = await tokenOf();
		const outcomes = await Promise.all(Array.from({ length: 20 }, () => outcomeOf(verifier, token)));
		expect(outcomes.every(o => o.status === 503 && o.retryAfter === 1)).toBe(true);
		expect(provider.requests).toBe(1);

		// The first backoff is at most a second; then one read, which now succeeds.
		provider.answer = json({ keys: [publicJwk] });
		clock += 1000;
		expect((await outcomeOf(verifier, token)).status).toBe(200);
		expect(provider.requests).toBe(2);
	});

	it("should share one read among concurrent requests", async () => {
		provider.answer = (req, res) => setTimeout(() => json({ keys: [publicJwk] })(req, res), 100);
		const verifier = verifierFor();
		const token = await tokenOf();
		const outcomes = await Promise.all(Array.from({ length: 10 }, () => outcomeOf(verifier, token)));
		expect(outcomes.map(o => o.status)).toEqual(Array(10).fill(200));
		expect(provider.requests).toBe(1);
	});
});

describe("Test 'createRemoteKeySet'", () => {
	it("should back off after each failure in a row, and report whether it kept keys", async () => {
		const provider = await new FakeProvider().start();
		provider.answer = json({ error: "down" }, 503);
		let clock = 0;
		const warnings: Array<Record<string, unknown> | undefined> = [];
		const keySet = createRemoteKeySet(provider.url, {
			timeoutMs: TIMEOUT_MS,
			now: () => clock,
			random: () => 0.5,
			logger: { info: () => undefined, warn: (_message, context) => warnings.push(context) }
		});
		try {
			for (const expectedWait of [750, 1500, 3000, 6000]) {
				await keySet.refresh();
				await keySet.refresh(); // within the backoff: no read
				clock += expectedWait;
			}
			expect(provider.requests).toBe(4);
			expect(warnings.map(w => w?.nextReadInMs)).toEqual([750, 1500, 3000, 6000]);
			expect(warnings[0]).toMatchObject({ failures: 1, keptLastGoodKeys: false });
		} finally {
			keySet.close();
			await provider.stop();
		}
	});
});

describe("Test 'backoffMs'", () => {
	const timings = { backoffBaseMs: 1000, backoffMaxMs: 300_000 };

	it("should double from the base to the maximum", () => {
		expect([1, 2, 3, 9, 10, 50].map(n => backoffMs(n, timings, 1))).toEqual([1000, 2000, 4000, 256_000, 300_000, 300_000]);
	});

	it("should keep at least half of the wait, whatever the jitter", () => {
		expect(backoffMs(1, timings, 0)).toBe(500);
		expect(backoffMs(10, timings, 0)).toBe(150_000);
	});
});
