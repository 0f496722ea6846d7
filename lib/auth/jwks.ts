/**
 * An identity provider's key set (`JWT_JWKS_URL`), read here rather than by jose's
 * createRemoteJWKSet: its timeout covers the response headers only, so a provider that sent headers
 * and then stalled held every authenticated request for as long as the socket lived, and once its
 * cached keys expired with the provider down every token got a 401 and every request a new fetch.
 *
 * - A read is one GET with a total timeout (headers and body) and a cap on the body.
 * - The last good key set is kept when a read fails. It is read again in the background once
 *   `refreshIntervalMs` has passed, and for a token whose `kid` it lacks at most once per
 *   `kidCooldownMs`; after a failure, not before a backoff (doubling, with jitter) has passed.
 * - One read at a time: concurrent requests share it, and a request waits for at most that one read.
 * - With no key at all, a request gets IdentityProviderUnavailableError (503, Retry-After), not a 401.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, type KeyLike } from "jose";
import { redactUrl } from "../database/database-target";
import { IdentityProviderUnavailableError } from "./auth.errors";

/** How a key set is read and kept; every field has a default in {@link KEY_SET_DEFAULTS}. */
export interface KeySetTimings {
	/** Longest time one read may take, headers and body together. */
	timeoutMs: number;
	/** Largest body accepted; past it the read fails. */
	maxBytes: number;
	/** Age of the key set after which a request starts a background read. */
	refreshIntervalMs: number;
	/** Shortest time between two reads caused by a token with an unknown `kid`. */
	kidCooldownMs: number;
	/** Wait after the first failed read; it doubles with each failure in a row. */
	backoffBaseMs: number;
	/** Longest wait between two reads after failures. */
	backoffMaxMs: number;
}

export const KEY_SET_DEFAULTS: Readonly<KeySetTimings> = {
	timeoutMs: 5000,
	maxBytes: 256 * 1024,
	refreshIntervalMs: 600_000,
	kidCooldownMs: 30_000,
	backoffBaseMs: 1000,
	backoffMaxMs: 300_000
};

/** The logger a key set reports failed reads and recoveries to (a Moleculer logger is one). */
export interface KeySetLogger {
	info(message: string, context?: Record<string, unknown>): void;
	warn(message: string, context?: Record<string, unknown>): void;
}

export interface KeySetOptions extends Partial<KeySetTimings> {
	/** The current time in ms since the epoch; `Date.now` by default. */
	now?: () => number;
	/** A number in [0, 1) for the backoff's jitter; `Math.random` by default. */
	random?: () => number;
	logger?: KeySetLogger;
}

/** The keys of an identity provider, for jose's `jwtVerify`. */
export interface RemoteKeySet {
	/** The key for a token's protected header; throws IdentityProviderUnavailableError when no key set could be read. */
	getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike>;
	/** Reads the key set now unless a read runs or the backoff forbids one; never rejects. */
	refresh(): Promise<void>;
	/** Ends a read in flight and starts no other. */
	close(): void;
}

/** A key set read from `url`, kept and read again as {@link KeySetTimings} say. */
export function createRemoteKeySet(url: string, options: KeySetOptions = {}): RemoteKeySet {
	const timings: KeySetTimings = { ...KEY_SET_DEFAULTS, ...definedOnly(options) };
	const now = options.now ?? Date.now;
	const random = options.random ?? Math.random;
	const shownUrl = redactUrl(url);
	let keys: ReturnType<typeof createLocalJWKSet> | undefined;
	let readAt = 0;
	let failures = 0;
	let nextReadAt = 0;
	let lastKidReadAt = -Infinity;
	let inFlight: { done: Promise<void>; abort(): void } | undefined;
	let closed = false;

	/** Starts a read (sharing the one in flight); resolves once it ended, whatever its outcome. */
	function read(): Promise<void> {
		if (inFlight) return inFlight.done;
		const fetching = fetchKeySet(url, timings.timeoutMs, timings.maxBytes);
		const done = (async () => {
			try {
				const keySet = await fetching.result;
				const first = keys === undefined;
				// createLocalJWKSet refuses a document that is no key set; the keys stay as they were then.
				keys = createLocalJWKSet(keySet);
				if (first || failures > 0) {
					options.logger?.info(`Read the identity provider's keys from '${shownUrl}'.`, { keys: keySet.keys.length, failuresBefore: failures });
				}
				readAt = now();
				failures = 0;
				nextReadAt = 0;
			} catch (err) {
				failures += 1;
				const waitMs = backoffMs(failures, timings, random());
				nextReadAt = now() + waitMs;
				options.logger?.warn(`Could not read the identity provider's keys from '${shownUrl}': ${(err as Error).message}.`, {
					failures,
					keptLastGoodKeys: keys !== undefined,
					nextReadInMs: waitMs
				});
			} finally {
				inFlight = undefined;
			}
		})();
		inFlight = { done, abort: fetching.abort };
		return done;
	}

	/** True when a read may start now: none runs, and no backoff holds. */
	const mayRead = (at: number) => !closed && !inFlight && at >= nextReadAt;

	/** The keys read last; a function so that a read awaited in between is seen (no stale narrowing). */
	const currentKeys = () => keys;

	/** The 503 for a request that found no key set; it says when the next read may be. */
	const unavailable = () => new IdentityProviderUnavailableError(Math.max(1, Math.ceil((nextReadAt - now()) / 1000)));

	return {
		async getKey(header, token) {
			const at = now();
			if (!keys) {
				if (inFlight || mayRead(at)) await read();
				const fresh = currentKeys();
				if (!fresh) throw unavailable();
				return fresh(header, token);
			}
			// Stale keys still serve this request; the read that replaces them runs in the background.
			if (at - readAt >= timings.refreshIntervalMs && mayRead(at)) void read();
			try {
				return await keys(header, token);
			} catch (err) {
				if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
				// The provider may have rotated its keys; a token with a made-up kid must not make every request a read.
				if (!inFlight && !(mayRead(at) && at - lastKidReadAt >= timings.kidCooldownMs)) throw err;
				if (!inFlight) lastKidReadAt = at;
				await read();
				return currentKeys()!(header, token);
			}
		},
		refresh() {
			return mayRead(now()) ? read() : (inFlight?.done ?? Promise.resolve());
		},
		close() {
			closed = true;
			inFlight?.abort();
		}
	};
}

/** The wait after `failures` failed reads in a row: doubling from the base to the maximum, between half and all of it. */
export function backoffMs(failures: number, timings: Pick<KeySetTimings, "backoffBaseMs" | "backoffMaxMs">, random: number): number {
	const full = Math.min(timings.backoffMaxMs, timings.backoffBaseMs * 2 ** Math.min(failures - 1, 30));
	// Half fixed, half random: api nodes that failed together do not all read again together.
	return Math.round(full / 2 + (full / 2) * random);
}

/** One GET of a key set, within `timeoutMs` for headers and body, of at most `maxBytes`. */
export function fetchKeySet(url: string, timeoutMs: number, maxBytes: number): { result: Promise<JSONWebKeySet>; abort(): void } {
	let req: ClientRequest | undefined;
	let fail: (err: Error) => void = () => undefined;
	const result = new Promise<JSONWebKeySet>((resolve, reject) => {
		let settled = false;
		let res: IncomingMessage | undefined;
		const timer = setTimeout(() => fail(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
		const settle = (outcome: () => void) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			outcome();
		};
		fail = err => {
			settle(() => reject(err));
			res?.destroy();
			req?.destroy();
		};
		const send = url.startsWith("https:") ? httpsRequest : httpRequest;
		// No agent: the connection is closed after the read, none is kept between two reads minutes apart.
		req = send(url, { method: "GET", agent: false, headers: { Accept: "application/jwk-set+json, application/json" } }, response => {
			res = response;
			const status = response.statusCode ?? 0;
			if (status !== 200) {
				const where = status >= 300 && status < 400 ? ` (a redirect to '${response.headers.location ?? "?"}': set JWT_JWKS_URL to the final address)` : "";
				return fail(new Error(`HTTP ${status}${where}`));
			}
			if (Number(response.headers["content-length"] ?? 0) > maxBytes) return fail(new Error(`the key set is larger than ${maxBytes} bytes`));
			const chunks: Buffer[] = [];
			let size = 0;
			response.on("data", (chunk: Buffer) => {
				size += chunk.length;
				if (size > maxBytes) return fail(new Error(`the key set is larger than ${maxBytes} bytes`));
				chunks.push(chunk);
			});
			response.on("end", () => settle(() => {
				try {
					resolve(keySetOf(Buffer.concat(chunks).toString("utf8")));
				} catch (err) {
					reject(err);
				}
			}));
			response.on("error", err => fail(err));
			response.on("close", () => fail(new Error("the connection closed before the key set was complete")));
		});
		req.on("error", err => fail(err));
		req.end();
	});
	return { result, abort: () => fail(new Error("the read was ended (the service stops)")) };
}

/** A body as a key set, or an error saying why it is none. */
function keySetOf(text: string): JSONWebKeySet {
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		throw new Error("the answer is not JSON");
	}
	const keys = (body as { keys?: unknown } | null)?.keys;
	if (!Array.isArray(keys)) throw new Error("the answer is not a JSON Web Key Set (no 'keys' array)");
	return body as JSONWebKeySet;
}

/** The options that were given a value: an undefined one must not override a default. */
function definedOnly(options: Partial<KeySetTimings>): Partial<KeySetTimings> {
	const timings: Partial<KeySetTimings> = {};
	for (const name of Object.keys(KEY_SET_DEFAULTS) as Array<keyof KeySetTimings>) {
		if (options[name] !== undefined) timings[name] = options[name];
	}
	return timings;
}
