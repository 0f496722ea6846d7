/**
 * Throwaway copies of the real services for the integration and e2e tests, the bench and the chaos
 * run: a PostgreSQL database and a RabbitMQ virtual host of their own, removed afterwards, so runs
 * never see each other's data or queues. Part of the test kit (with processes.ts and cluster.ts)
 * that the tools build compiles too: plain TypeScript, no test framework.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Client } from "pg";
import { mintToken } from "../../lib/auth/tokens";

/** The JWT_SECRET of every product process the tests, benchmarks and the chaos run start. */
export const LOCAL_JWT_SECRET = "local-runs-only-secret-0123456789abcdef-0123";

/** The CLUSTER_SECRET of every cluster the tests, benchmarks and the chaos run start. */
export const LOCAL_CLUSTER_SECRET = "local-runs-only-cluster-key-5f3a9c1e7b2d4086";

let adminToken: Promise<string> | undefined;

/** `Authorization` value of an admin's token for {@link LOCAL_JWT_SECRET}, valid for a day. */
export async function adminAuthorization(): Promise<string> {
	adminToken ??= mintToken(LOCAL_JWT_SECRET, { sub: "admin-1", role: "admin", ttlSeconds: 86_400 });
	return `Bearer ${await adminToken}`;
}

/** `fetch` with an admin's token, unless the request names its own `Authorization`. */
export async function apiFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	if (!headers.has("authorization")) headers.set("Authorization", await adminAuthorization());
	return fetch(url, { ...init, headers });
}

/** Where the throwaway databases are made (a user that may create databases). */
export const ADMIN_DATABASE_URL =
	process.env.TEST_DATABASE_URL ?? process.env.BENCH_DATABASE_URL ?? process.env.CHAOS_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
/** The broker the throwaway vhosts are made on. */
export const ADMIN_AMQP_URL =
	process.env.TEST_AMQP_URL ?? process.env.BENCH_AMQP_URL ?? process.env.CHAOS_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

/** A short random suffix for names of databases, vhosts and namespaces. */
export function uniqueSuffix(): string {
	return `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

export function sleep(ms: number): Promise<void> {
	return new Promise(resolve => setTimeout(resolve, ms));
}

export interface TestDatabase {
	url: string;
	name: string;
	drop(): Promise<void>;
}

/** Creates an empty database on the admin server. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
	const name = `t_${label}_${uniqueSuffix()}`.toLowerCase();
	const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
	await admin.connect();
	try {
		await admin.query(`CREATE DATABASE "${name}"`);
	} finally {
		await admin.end();
	}
	const url = new URL(ADMIN_DATABASE_URL);
	url.pathname = `/${name}`;
	return {
		url: url.toString(),
		name,
		async drop() {
			const c = new Client({ connectionString: ADMIN_DATABASE_URL });
			await c.connect();
			try {
				await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
			} finally {
				await c.end();
			}
		}
	};
}

/** Runs one query on a database and returns its rows. */
export async function queryDatabase<T = Record<string, unknown>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
	const c = new Client({ connectionString: url });
	await c.connect();
	try {
		return (await c.query(sql, values)).rows as T[];
	} finally {
		await c.end();
	}
}

export interface TestVhost {
	url: string;
	vhost: string;
	remove(): Promise<void>;
}

/**
 * Creates a RabbitMQ virtual host (with rabbitmqctl, on this machine). Without rabbitmqctl the
 * default vhost is used: the caller's own namespace keeps its queues apart, but they stay behind.
 */
export function createTestVhost(): TestVhost {
	const vhost = `test-${uniqueSuffix()}`;
	try {
		execFileSync("rabbitmqctl", ["add_vhost", vhost], { stdio: "ignore" });
		execFileSync("rabbitmqctl", ["set_permissions", "-p", vhost, new URL(ADMIN_AMQP_URL).username || "guest", ".*", ".*", ".*"], {
			stdio: "ignore"
		});
	} catch {
		return { url: ADMIN_AMQP_URL, vhost: "/", async remove() {} };
	}
	const url = new URL(ADMIN_AMQP_URL);
	url.pathname = `/${encodeURIComponent(vhost)}`;
	return {
		url: url.toString(),
		vhost,
		async remove() {
			try {
				execFileSync("rabbitmqctl", ["delete_vhost", vhost], { stdio: "ignore" });
			} catch {
				/* already gone */
			}
		}
	};
}

/**
 * createTestVhost(), but failing instead of falling back to the default vhost: for the bench and the
 * chaos run, which must leave no queues behind and close only their own connections.
 */
export function createOwnVhost(): TestVhost {
	const vhost = createTestVhost();
	if (vhost.vhost === "/") {
		throw new Error("rabbitmqctl could not create a virtual host: is it installed on this machine, and is the broker running?");
	}
	return vhost;
}

/** Polls `probe` until it returns a truthy value, or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
	what: string,
	probe: () => Promise<T> | T,
	timeoutMs = 20_000,
	intervalMs = 100
): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const value = await probe();
			if (value) return value as NonNullable<T>;
		} catch (err) {
			last = err;
		}
		if (Date.now() > deadline) {
			throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
		}
		await sleep(intervalMs);
	}
}

/** Closes every client connection of one vhost on the broker (the others are left alone); returns how many. */
export function closeVhostConnections(vhost: string, reason: string): number {
	const lines = execFileSync("rabbitmqctl", ["list_connections", "-q", "--no-table-headers", "pid", "vhost"], { encoding: "utf8" })
		.split("\n")
		.map(l => l.trim().split(/\s+/))
		.filter(([pid, name]) => pid && name === vhost);
	for (const [pid] of lines) {
		try {
			execFileSync("rabbitmqctl", ["close_connection", pid, reason], { stdio: "ignore" });
		} catch {
			/* already gone */
		}
	}
	return lines.length;
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}
