/**
 * Bearer tokens: how the api checks them (jose), and how a token is minted for a configured secret
 * (`npm run token`, the tokens printed at a first start, the tests).
 *
 * Accepted: HS256 tokens signed with `JWT_SECRET`, or tokens of an identity provider whose keys are
 * at `JWT_JWKS_URL` (asymmetric algorithms only), with `sub` (the customer id), `role` (`customer` |
 * `admin`), `exp` and `iat`; `iss` and `aud` when configured. `alg: none`, another algorithm, a bad
 * signature, an expired token (beyond the clock tolerance), one issued in the future, one living
 * longer than `maxTokenLifetimeSeconds` (`exp - iat`) or a missing claim are refused.
 */
import { randomBytes } from "node:crypto";
import { SignJWT, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { Roles, type Caller, type Role } from "./caller";
import { IdentityProviderUnavailableError, InvalidTokenError, MissingTokenError, TokenExpiredError } from "./auth.errors";
import { createRemoteKeySet, type KeySetLogger, type KeySetTimings, type RemoteKeySet } from "./jwks";

/** How tokens are checked; the `jwt` part of the node's configuration. */
export interface TokenSettings {
	secret?: string;
	/**
	 * The secret was made at this node's start (no JWT_SECRET): a token of an earlier run, signed
	 * with that run's secret, fails its signature, and the refusal says so.
	 */
	secretMadeForRun?: boolean;
	jwksUrl?: string;
	issuer?: string;
	audience?: string;
	clockToleranceSeconds: number;
	/** The longest `exp - iat` accepted, in seconds. */
	maxTokenLifetimeSeconds: number;
	/** How the identity provider's key set is read and kept; the tests shorten these (defaults: KEY_SET_DEFAULTS). */
	keySet?: Partial<KeySetTimings>;
}

/** What a verifier takes besides the configuration. */
export interface TokenVerifierOptions {
	/** The current time in ms since the epoch; `Date.now` by default. */
	now?: () => number;
	/** Where failed reads of the identity provider's keys are reported. */
	logger?: KeySetLogger;
}

/** The algorithms accepted from an identity provider's key set: asymmetric ones only. */
export const JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/** The longest `Authorization` header read; a JWT of this API is a few hundred bytes. */
export const MAX_TOKEN_LENGTH = 8192;

/**
 * A customer id, as `sub`: no control or format character (bidi overrides and isolates, zero-width
 * ones among them: a subject that reads as another in a log or the console), no line or paragraph
 * separator, no lone surrogate.
 */
const SUBJECT = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]{1,100}$/u;

/** What a person is told when a subject breaks {@link isSubject}. */
export const SUBJECT_RULE = "a customer id of 1 to 100 characters, without control, format (bidirectional, zero-width) or line-separator characters";

/** True for a `sub` this API accepts: {@link SUBJECT_RULE}. */
export function isSubject(value: unknown): value is string {
	return typeof value === "string" && SUBJECT.test(value);
}

/** Checks bearer tokens. */
export interface TokenVerifier {
	/** `secret` (HS256) or `jwks` (an identity provider). */
	readonly mode: "secret" | "jwks";
	/**
	 * The caller of a request's `Authorization` header; throws a 401 error for a missing or bad token,
	 * a 503 (IdentityProviderUnavailableError) when no key of the identity provider could be read.
	 */
	callerOf(authorization: string | undefined): Promise<Caller>;
	/** Reads the identity provider's keys ahead of the first request; resolves at once for a secret, never rejects. */
	prepare(): Promise<void>;
	/** Ends a read of the keys in flight. */
	close(): void;
}

/** A random HS256 secret, for a run that was given none. */
export function makeSecret(): string {
	return randomBytes(32).toString("base64url");
}

/** A verifier for the configured secret or key set. */
export function createTokenVerifier(settings: TokenSettings, verifierOptions: TokenVerifierOptions = {}): TokenVerifier {
	const now = verifierOptions.now ?? Date.now;
	let key: Uint8Array | JWTVerifyGetKey;
	let keySet: RemoteKeySet | undefined;
	let algorithms: string[];
	let mode: TokenVerifier["mode"];
	if (settings.jwksUrl) {
		keySet = createRemoteKeySet(settings.jwksUrl, { ...settings.keySet, now, logger: verifierOptions.logger });
		key = keySet.getKey;
		algorithms = JWKS_ALGORITHMS;
		mode = "jwks";
	} else if (settings.secret) {
		key = new TextEncoder().encode(settings.secret);
		algorithms = ["HS256"];
		mode = "secret";
	} else {
		throw new Error("Tokens need JWT_SECRET or JWT_JWKS_URL; the start makes a secret when neither is set.");
	}
	const options: JWTVerifyOptions = {
		algorithms,
		clockTolerance: settings.clockToleranceSeconds,
		requiredClaims: ["sub", "exp", "iat"],
		...(settings.issuer ? { issuer: settings.issuer } : {}),
		...(settings.audience ? { audience: settings.audience } : {})
	};

	return {
		mode,
		async callerOf(authorization) {
			const token = bearerToken(authorization);
			let payload: JWTPayload;
			const at = now();
			const verifyOptions = { ...options, currentDate: new Date(at) };
			try {
				// Both overloads of jwtVerify: one for a key, one for a key set.
				payload = (typeof key === "function" ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions)).payload;
			} catch (err) {
				throw refusal(err, settings);
			}
			checkLifetime(payload, Math.floor(at / 1000), settings);
			return callerFromClaims(payload);
		},
		prepare: () => keySet?.refresh() ?? Promise.resolve(),
		close: () => keySet?.close()
	};
}

/** A compact JWS: header, payload and signature, base64url, separated by dots (an empty signature gets jose's answer). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The token of an `Authorization: Bearer <token>` header. */
function bearerToken(authorization: string | undefined): string {
	if (authorization === undefined || authorization.trim() === "") throw new MissingTokenError();
	if (authorization.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError(`the Authorization header is longer than ${MAX_TOKEN_LENGTH} characters`);
	const match = /^Bearer +(\S+) *$/i.exec(authorization);
	if (!match) throw new InvalidTokenError("the Authorization header is not 'Bearer <token>'");
	// A placeholder pasted as is (the README's `eyJ…`) is a token, just not a JWT.
	if (!JWT_SHAPE.test(match[1])) throw new InvalidTokenError("the token is not a JWT (three base64url parts separated by dots)");
	return match[1];
}

/** The 401 for an error of jose, without its internals. */
function refusal(err: unknown, settings: Pick<TokenSettings, "secretMadeForRun">): Error {
	// Not the token's fault: the caller is told to come back, not to get another token.
	if (err instanceof IdentityProviderUnavailableError) return err;
	if (err instanceof errors.JWTExpired) return new TokenExpiredError();
	if (err instanceof errors.JWTClaimValidationFailed) {
		if (err.reason === "missing" && err.claim === "iat") {
			return new InvalidTokenError("the claim 'iat' is missing: this API needs to know when a token was issued to bound its lifetime");
		}
		if (err.reason === "missing") return new InvalidTokenError(`the claim '${err.claim}' is missing`);
		return new InvalidTokenError(`the claim '${err.claim}' is not accepted`);
	}
	if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
		return new InvalidTokenError("the token's algorithm is not accepted");
	}
	if (err instanceof errors.JWSSignatureVerificationFailed) {
		if (settings.secretMadeForRun) {
			return new InvalidTokenError(
				"the signature does not verify. No JWT_SECRET is set, so this node made a new secret when it started: a token printed by an earlier run no longer works. Use a token printed at this start, or set JWT_SECRET so that tokens outlive a restart"
			);
		}
		return new InvalidTokenError("the signature does not verify");
	}
	if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
		return new InvalidTokenError("no key of the identity provider matches the token");
	}
	return new InvalidTokenError("it is not a well-formed signed JWT");
}

/** Refuses a token issued in the future (beyond the clock tolerance), or living longer than accepted. */
function checkLifetime(payload: JWTPayload, nowSeconds: number, settings: TokenSettings): void {
	// jose has checked that both are present and numbers.
	const iat = payload.iat as number;
	const exp = payload.exp as number;
	if (iat > nowSeconds + settings.clockToleranceSeconds) throw new InvalidTokenError("the claim 'iat' is in the future");
	const lifetime = exp - iat;
	if (lifetime > settings.maxTokenLifetimeSeconds) {
		throw new InvalidTokenError(
			`the token lives ${lifetime} s (exp - iat), longer than the ${settings.maxTokenLifetimeSeconds} s this API accepts (JWT_MAX_TTL_S); get a shorter-lived token`
		);
	}
}

/** The caller named by a verified token's claims. */
function callerFromClaims(payload: JWTPayload): Caller {
	const { sub, role } = payload as JWTPayload & { role?: unknown };
	if (!isSubject(sub)) {
		throw new InvalidTokenError(`the claim 'sub' must be ${SUBJECT_RULE}`);
	}
	if (role === undefined) throw new InvalidTokenError("the claim 'role' is missing");
	if (!Roles.includes(role as Role)) throw new InvalidTokenError(`the claim 'role' must be one of ${Roles.join(", ")}`);
	return { sub, role: role as Role };
}

/** What a minted token says. */
export interface TokenClaims {
	sub: string;
	role: Role;
	/** Lifetime in seconds. */
	ttlSeconds: number;
	issuer?: string;
	audience?: string;
}

/** An HS256 token for `secret`. */
export async function mintToken(secret: string, claims: TokenClaims): Promise<string> {
	// One reading of the clock: `exp - iat` is exactly the lifetime asked for, never a second more.
	const issuedAt = Math.floor(Date.now() / 1000);
	const jwt = new SignJWT({ role: claims.role })
		.setProtectedHeader({ alg: "HS256", typ: "JWT" })
		.setSubject(claims.sub)
		.setIssuedAt(issuedAt)
		.setExpirationTime(issuedAt + claims.ttlSeconds);
	if (claims.issuer) jwt.setIssuer(claims.issuer);
	if (claims.audience) jwt.setAudience(claims.audience);
	return jwt.sign(new TextEncoder().encode(secret));
}
