/**
 * Real services for the integration and e2e tiers: a PostgreSQL database and a RabbitMQ virtual
 * host of their own per test file, removed afterwards, so runs never see each other's data or queues.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Client } from "pg";

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const TEST_AMQP_URL = process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

/** A short random suffix for names of databases, vhosts and namespaces. */
export function uniqueSuffix(): string {
	return `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

export interface TestDatabase {
	url: string;
	name: string;
	drop(): Promise<void>;
}

/** Creates an empty database on the test server. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
	const name = `t_${label}_${uniqueSuffix()}`.toLowerCase();
	const admin = new Client({ connectionString: TEST_DATABASE_URL });
	await admin.connect();
	try {
		await admin.query(`CREATE DATABASE "${name}"`);
	} finally {
		await admin.end();
	}
	const url = new URL(TEST_DATABASE_URL);
	url.pathname = `/${name}`;
	return {
		url: url.toString(),
		name,
		async drop() {
			const c = new Client({ connectionString: TEST_DATABASE_URL });
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
 * Creates a RabbitMQ virtual host for one test file (with rabbitmqctl, on this machine). Without
 * rabbitmqctl the default vhost is used: the test's own namespace keeps its queues apart, but they
 * stay behind.
 */
export function createTestVhost(): TestVhost {
	const vhost = `test-${uniqueSuffix()}`;
	try {
		execFileSync("rabbitmqctl", ["add_vhost", vhost], { stdio: "ignore" });
		execFileSync("rabbitmqctl", ["set_permissions", "-p", vhost, new URL(TEST_AMQP_URL).username || "guest", ".*", ".*", ".*"], {
			stdio: "ignore"
		});
	} catch {
		return { url: TEST_AMQP_URL, vhost: "/", async remove() {} };
	}
	const url = new URL(TEST_AMQP_URL);
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
		await new Promise(r => setTimeout(r, intervalMs));
	}
}
