/**
 * The secrets of a node, read from the environment: the cluster key every bus packet is signed with,
 * and how the api checks bearer tokens. A value is never printed, and a placeholder is refused.
 */
import { isIP } from "node:net";
import type { TokenSettings } from "../auth/tokens";
import { ConfigError, StartupError } from "../startup-error";
import { integer, text, type Env } from "./env";

/** The key every bus packet is signed and checked with, and one more accepted during a rotation. */
export interface ClusterSecrets {
	secret: string;
	previousSecret?: string;
}

/** How the api checks bearer tokens, as the environment gives it: the token checker's settings (lib/auth/tokens.ts) but its key-set timings. */
export type JwtConfig = Omit<TokenSettings, "keySet">;

/** The shortest HS256 secret accepted: 256 bits, as RFC 7518 asks of an HMAC key. */
export const MIN_JWT_SECRET_LENGTH = 32;
/** The shortest cluster key accepted: 256 bits, like the JWT secret. */
export const MIN_CLUSTER_SECRET_LENGTH = 32;

/**
 * Why a secret is a placeholder, not a key, or undefined: the example values of a README or a
 * manifest (`CHANGE_ME…`, `changeme`, `example`), or a value that is mostly one character repeated.
 * A key anyone can read in a repository opens the product to anyone.
 */
export function placeholderSecretProblem(value: string): string | undefined {
	if (/change[_-]?me|example|placeholder/i.test(value)) return "a placeholder (it contains CHANGE_ME, changeme, example or placeholder)";
	const counts = new Map<string, number>();
	for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
	if (Math.max(...counts.values()) * 2 >= [...value].length) return "mostly one repeated character";
	return undefined;
}

/** A secret variable: unset, or at least `minBytes` long and no placeholder; its value is never printed. */
export function secret(env: Env, name: string, minBytes: number): string | undefined {
	const value = env[name];
	if (value === undefined || value.length === 0) return undefined;
	if (Buffer.byteLength(value) < minBytes) {
		throw new ConfigError(name, "(hidden)", `at least ${minBytes} bytes (a key of ${minBytes * 8} bits); e.g. openssl rand -hex 32`);
	}
	const placeholder = placeholderSecretProblem(value);
	if (placeholder) throw new ConfigError(name, "(hidden)", `a random key, not ${placeholder}; e.g. openssl rand -hex 32`);
	return value;
}

/** The cluster key (required with a transporter) and the previous one of a rotation. */
export function clusterSecrets(env: Env, transporter: string | undefined): ClusterSecrets | undefined {
	const current = secret(env, "CLUSTER_SECRET", MIN_CLUSTER_SECRET_LENGTH);
	const previousSecret = secret(env, "CLUSTER_SECRET_PREVIOUS", MIN_CLUSTER_SECRET_LENGTH);
	if (!transporter) return undefined;
	if (!current) {
		throw new StartupError(
			"CLUSTER_SECRET is not set: with TRANSPORTER set, every bus packet is signed with this cluster key. Give every node the same key of at least 32 bytes, e.g. CLUSTER_SECRET=$(openssl rand -hex 32)."
		);
	}
	if (previousSecret === current) throw new ConfigError("CLUSTER_SECRET_PREVIOUS", "(hidden)", "another key than CLUSTER_SECRET (the one before a rotation), or unset");
	return { secret: current, previousSecret };
}

/** How bearer tokens are checked, from JWT_SECRET or JWT_JWKS_URL (with JWT_ISSUER and JWT_AUDIENCE). */
export function jwtConfig(env: Env): JwtConfig {
	const jwtSecret = secret(env, "JWT_SECRET", MIN_JWT_SECRET_LENGTH);
	const jwksUrl = text(env, "JWT_JWKS_URL");
	const issuer = text(env, "JWT_ISSUER");
	const audience = text(env, "JWT_AUDIENCE");
	if (jwtSecret !== undefined && jwksUrl !== undefined) {
		throw new ConfigError("JWT_JWKS_URL", jwksUrl, "unset when JWT_SECRET is set: tokens are checked one way");
	}
	if (jwksUrl !== undefined) {
		if (!isKeySetUrl(jwksUrl)) {
			// Keys read over plain HTTP could be swapped on the way, and with them every token.
			throw new ConfigError("JWT_JWKS_URL", jwksUrl, "an https:// URL of a JSON Web Key Set (http:// only for localhost, 127.0.0.0/8 or ::1)");
		}
		if (!issuer) throw new ConfigError("JWT_ISSUER", "", "the issuer (iss) of the identity provider's tokens when JWT_JWKS_URL is set");
		if (!audience) throw new ConfigError("JWT_AUDIENCE", "", "the audience (aud) of this API's tokens when JWT_JWKS_URL is set");
	}
	return {
		secret: jwtSecret,
		jwksUrl,
		issuer,
		audience,
		clockToleranceSeconds: integer(env, "JWT_CLOCK_TOLERANCE_S", 30, 0, 300),
		maxTokenLifetimeSeconds: integer(env, "JWT_MAX_TTL_S", 86_400, 60, 31_536_000)
	};
}

/** True for an https:// URL, or an http:// one on this machine (a local identity provider, the tests). */
export function isKeySetUrl(raw: string): boolean {
	if (/\s/.test(raw)) return false;
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return false;
	}
	if (url.protocol === "https:") return true;
	if (url.protocol !== "http:") return false;
	const host = url.hostname;
	return host === "localhost" || host === "[::1]" || (isIP(host) === 4 && host.startsWith("127."));
}
