/**
 * Readers of one environment variable each: the value, checked, or the default; a bad value throws a
 * ConfigError naming the variable, the value and what is expected.
 */
import { isIP } from "node:net";
import { postgresUrlProblem, redactUrl } from "../database/database-target";
import { ConfigError } from "../startup-error";

/** The environment, or a test's stand-in for it. */
export type Env = Record<string, string | undefined>;

/** A comma list of IP addresses (of trusted reverse proxies). */
export function addresses(env: Env, name: string): string[] {
	const list = (text(env, name) ?? "").split(",").map(s => s.trim()).filter(Boolean);
	for (const address of list) {
		if (isIP(address) === 0) throw new ConfigError(name, address, "a comma list of IP addresses, e.g. 10.0.0.5,::1");
	}
	return list;
}

/** An integer from `min` to `max`. */
export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
	const raw = env[name];
	if (raw === undefined || raw.trim() === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < min || value > max) {
		throw new ConfigError(name, raw, `an integer from ${min} to ${max}`);
	}
	return value;
}

/** true/1/yes or false/0/no. */
export function boolean(env: Env, name: string, fallback: boolean): boolean {
	const raw = env[name];
	if (raw === undefined || raw.trim() === "") return fallback;
	if (/^(true|1|yes)$/i.test(raw)) return true;
	if (/^(false|0|no)$/i.test(raw)) return false;
	throw new ConfigError(name, raw, "true or false");
}

/** The trimmed value; unset when empty. */
export function text(env: Env, name: string): string | undefined {
	const raw = env[name]?.trim();
	return raw ? raw : undefined;
}

/** One of the `allowed` values. */
export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
	const raw = text(env, name);
	if (raw === undefined) return fallback;
	if (!allowed.includes(raw as T)) throw new ConfigError(name, raw, `one of ${allowed.join(", ")}`);
	return raw as T;
}

/** A PostgreSQL URL, or unset (the embedded database). */
export function databaseUrl(env: Env, name: string): string | undefined {
	const raw = text(env, name);
	if (raw !== undefined && postgresUrlProblem(raw)) {
		throw new ConfigError(name, redactUrl(raw), "a postgres:// or postgresql:// URL: the services store their data in PostgreSQL only");
	}
	return raw;
}

/** An IPv4 or IPv6 address (or a host name) to bind a server to. */
export function bindAddress(env: Env, name: string, fallback: string): string {
	const raw = text(env, name);
	if (raw === undefined) return fallback;
	if (!/^[A-Za-z0-9.:-]{1,253}$/.test(raw)) throw new ConfigError(name, raw, "an address to listen on, e.g. 0.0.0.0, 127.0.0.1 or ::");
	return raw;
}

/** A comma list of browser origins (`https://shop.example.com`), or `*` for any. */
export function origins(env: Env, name: string): string[] {
	const list = (text(env, name) ?? "").split(",").map(s => s.trim()).filter(Boolean);
	for (const origin of list) {
		if (origin !== "*" && !/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(origin)) {
			throw new ConfigError(name, origin, "a comma list of origins such as https://shop.example.com (scheme, host and port only), or *");
		}
	}
	return list;
}
