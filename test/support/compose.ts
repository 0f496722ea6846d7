/**
 * The Compose files as Compose reads them: `docker compose config --format json` when the Compose
 * plugin is there, else `docker-compose config` (Compose v1, YAML out; .ci/run installs it), else
 * the files parsed here with the `yaml` package, merged and interpolated the way Compose does it
 * (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `$$`).
 *
 * The environment given is the whole of it: the caller's own variables that the files read are
 * left out, and so is a `.env` of the work tree (an empty `--env-file` instead).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "./ops-pack";

export interface PublishedPort {
	/** The host address it is bound to; undefined: every interface. */
	hostIp?: string;
	published?: number;
	target: number;
}

export interface ComposeService {
	image?: string;
	environment: Record<string, string>;
	ports: PublishedPort[];
}

export interface ComposeConfig {
	services: Record<string, ComposeService>;
}

export type ComposeReader = "docker compose" | "docker-compose" | "yaml";

export class ComposeConfigError extends Error {}

/** Variables the compose files read: never taken from the caller's environment. */
const COMPOSE_VARIABLES = /^(COMPOSE_.*|RABBITMQ_.*|.*_DB_PASSWORD|CLUSTER_SECRET.*|JWT_SECRET|GRAFANA_.*)$/;

function runs(command: string, args: string[]): boolean {
	const result = spawnSync(command, args, { stdio: "ignore", timeout: 30_000 });
	return result.status === 0;
}

let detected: ComposeReader | undefined;

/** How this machine reads compose files: the real binary when there is one. */
export function composeReader(): ComposeReader {
	detected ??= runs("docker", ["compose", "version"]) ? "docker compose" : runs("docker-compose", ["version"]) ? "docker-compose" : "yaml";
	return detected;
}

/** The resolved configuration of `files` (relative to the repository root) under `variables` alone. */
export function composeConfig(files: string[], variables: Record<string, string>, reader = composeReader()): ComposeConfig {
	const raw = reader === "yaml" ? readWithYaml(files, variables) : readWithBinary(reader, files, variables);
	return normalize(raw);
}

function readWithBinary(reader: Exclude<ComposeReader, "yaml">, files: string[], variables: Record<string, string>): unknown {
	const env: NodeJS.ProcessEnv = {};
	for (const [name, value] of Object.entries(process.env)) if (!COMPOSE_VARIABLES.test(name)) env[name] = value;
	Object.assign(env, variables);
	const dir = mkdtempSync(join(tmpdir(), "compose-spec-"));
	try {
		const envFile = join(dir, "empty.env");
		writeFileSync(envFile, "");
		const fileArgs = files.flatMap(file => ["-f", join(REPO_ROOT, file)]);
		const [command, ...first] = reader === "docker compose" ? ["docker", "compose"] : ["docker-compose"];
		const args = [...first, "--env-file", envFile, "--project-directory", REPO_ROOT, ...fileArgs, "config", ...(reader === "docker compose" ? ["--format", "json"] : [])];
		const result = spawnSync(command, args, { cwd: REPO_ROOT, env, encoding: "utf8", timeout: 60_000 });
		if (result.status !== 0) throw new ComposeConfigError(`${reader} config failed: ${(result.stderr || result.stdout || String(result.error)).trim()}`);
		return reader === "docker compose" ? JSON.parse(result.stdout) : parse(result.stdout);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** Compose's interpolation of one string. */
export function interpolate(text: string, variables: Record<string, string>): string {
	return text.replace(/\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (match, braced, colon, operator, operand, bare) => {
		if (match === "$$") return "$";
		const name: string = braced ?? bare;
		const value = variables[name];
		const missing = value === undefined || (colon === ":" && value === "");
		if (operator === "-") return missing ? operand : value;
		if (operator === "?") {
			if (missing) throw new ComposeConfigError(`required variable ${name} is missing a value: ${operand}`);
			return value;
		}
		return value ?? "";
	});
}

function interpolateAll(node: unknown, variables: Record<string, string>): unknown {
	if (typeof node === "string") return interpolate(node, variables);
	if (Array.isArray(node)) return node.map(item => interpolateAll(item, variables));
	if (node && typeof node === "object") return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateAll(value, variables)]));
	return node;
}

/** Later files add services and override a service's keys (environment merged), as Compose does. */
function readWithYaml(files: string[], variables: Record<string, string>): unknown {
	const services: Record<string, Record<string, unknown>> = {};
	for (const file of files) {
		const doc = interpolateAll(parse(readFileSync(join(REPO_ROOT, file), "utf8"), { merge: true }), variables) as { services?: Record<string, Record<string, unknown>> };
		for (const [name, service] of Object.entries(doc.services ?? {})) {
			const before = services[name] ?? {};
			const environment = { ...environmentOf(before.environment), ...environmentOf(service.environment) };
			services[name] = { ...before, ...service, environment };
		}
	}
	return { services };
}

function environmentOf(raw: unknown): Record<string, string> {
	if (!raw) return {};
	if (Array.isArray(raw)) {
		return Object.fromEntries(raw.map(String).map(entry => (entry.includes("=") ? [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)] : [entry, ""])));
	}
	return Object.fromEntries(Object.entries(raw as Record<string, unknown>).map(([key, value]) => [key, value === null || value === undefined ? "" : String(value)]));
}

/** `[host_ip:]published:target[/protocol]`, `target`, or Compose's long form. */
export function portOf(raw: unknown): PublishedPort {
	if (raw && typeof raw === "object") {
		const long = raw as { host_ip?: string; published?: string | number; target: string | number };
		return { hostIp: long.host_ip || undefined, published: long.published === undefined || long.published === "" ? undefined : Number(long.published), target: Number(long.target) };
	}
	const text = String(raw).replace(/\/(tcp|udp|sctp)$/, "");
	const match = /^(?:(\[[^\]]+\]|[^:]+):)?(?:(\d+):)?(\d+)$/.exec(text);
	if (!match) throw new Error(`unreadable port ${String(raw)}`);
	const [, hostIp, published, target] = match;
	if (hostIp !== undefined && published === undefined) return { published: Number(hostIp), target: Number(target) };
	return { hostIp: hostIp?.replace(/^\[|\]$/g, ""), published: published === undefined ? undefined : Number(published), target: Number(target) };
}

function normalize(raw: unknown): ComposeConfig {
	const services = (raw as { services?: Record<string, Record<string, unknown>> }).services ?? {};
	return {
		services: Object.fromEntries(
			Object.entries(services).map(([name, service]) => [
				name,
				{
					image: typeof service.image === "string" ? service.image : undefined,
					environment: environmentOf(service.environment),
					ports: ((service.ports as unknown[] | undefined) ?? []).map(portOf)
				}
			])
		)
	};
}

/** Addresses that only this machine reaches. */
export function isLoopback(hostIp: string | undefined): boolean {
	return hostIp !== undefined && (/^127\./.test(hostIp) || hostIp === "::1" || hostIp === "localhost");
}
