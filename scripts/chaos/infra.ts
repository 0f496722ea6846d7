/**
 * Throwaway infrastructure for one chaos run: two PostgreSQL databases and a RabbitMQ virtual host,
 * created fresh and removed at the end. Copied in spirit from test/support/services.ts (which the
 * build does not compile).
 */
import { execFile } from "node:child_process";
import amqp from "amqplib";
import { Client } from "pg";
import { uniqueSuffix } from "./util";

export const ADMIN_DATABASE_URL = process.env.CHAOS_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432";
export const AMQP_URL = process.env.CHAOS_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

export interface Database {
	name: string;
	url: string;
}

/** Creates an empty database on the admin server. */
export async function createDatabase(label: string): Promise<Database> {
	const name = `chaos_${label}_${uniqueSuffix()}`.toLowerCase();
	const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
	await admin.connect();
	try {
		await admin.query(`CREATE DATABASE "${name}"`);
	} finally {
		await admin.end();
	}
	const url = new URL(ADMIN_DATABASE_URL);
	url.pathname = `/${name}`;
	return { name, url: url.toString() };
}

/** Drops a database, even with connections still open. */
export async function dropDatabase(name: string): Promise<void> {
	const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
	await admin.connect();
	try {
		await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
	} finally {
		await admin.end();
	}
}

/** Runs one query on a database and returns its rows. */
export async function query<T = Record<string, unknown>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
	const client = new Client({ connectionString: url });
	await client.connect();
	try {
		return (await client.query(sql, values)).rows as T[];
	} finally {
		await client.end();
	}
}

/** Runs rabbitmqctl (asynchronously: it boots an Erlang VM and takes a second or so). */
export function rabbitmqctl(args: string[], timeoutMs = 30_000): Promise<string> {
	return new Promise((resolve, reject) => {
		execFile("rabbitmqctl", args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
			if (err) reject(new Error(`rabbitmqctl ${args.join(" ")} failed: ${err.message} ${String(stderr).trim()}`));
			else resolve(String(stdout));
		});
	});
}

export interface Vhost {
	name: string;
	url: string;
}

/** Creates a RabbitMQ virtual host with full permissions for the URL's user. */
export async function createVhost(): Promise<Vhost> {
	const name = `chaos-${uniqueSuffix()}`;
	const base = new URL(AMQP_URL);
	await rabbitmqctl(["add_vhost", name]);
	await rabbitmqctl(["set_permissions", "-p", name, decodeURIComponent(base.username) || "guest", ".*", ".*", ".*"]);
	const url = new URL(AMQP_URL);
	url.pathname = `/${encodeURIComponent(name)}`;
	return { name, url: url.toString() };
}

export async function deleteVhost(name: string): Promise<void> {
	await rabbitmqctl(["delete_vhost", name]);
}

/**
 * Closes every client connection of one vhost (and only those): the broker-side equivalent of a
 * network blip. Returns how many were closed.
 */
export async function closeVhostConnections(vhost: string, reason: string): Promise<number> {
	const listing = await rabbitmqctl(["list_connections", "pid", "vhost", "--quiet", "--no-table-headers"]);
	const pids = listing
		.split("\n")
		.map(line => line.trim().split("\t"))
		.filter(cols => cols.length >= 2 && cols[1] === vhost)
		.map(cols => cols[0]);
	let closed = 0;
	for (const pid of pids) {
		try {
			await rabbitmqctl(["close_connection", pid, reason]);
			closed++;
		} catch {
			/* the connection went away meanwhile */
		}
	}
	return closed;
}

/** Message counts of queues of a vhost; a queue that does not exist counts as null. */
export async function queueDepths(vhostUrl: string, queues: string[]): Promise<Record<string, number | null>> {
	const connection = await amqp.connect(vhostUrl);
	connection.on("error", () => undefined);
	const depths: Record<string, number | null> = {};
	try {
		for (const queue of queues) {
			// A missing queue closes the channel (404): one channel per check.
			const channel = await connection.createChannel();
			channel.on("error", () => undefined);
			try {
				depths[queue] = (await channel.checkQueue(queue)).messageCount;
				await channel.close();
			} catch {
				depths[queue] = null;
			}
		}
	} finally {
		await connection.close().catch(() => undefined);
	}
	return depths;
}

/** Up to `max` messages of a queue, described (headers and body), left in the queue. */
export async function peekQueue(vhostUrl: string, queue: string, max: number): Promise<string[]> {
	const connection = await amqp.connect(vhostUrl);
	connection.on("error", () => undefined);
	const out: string[] = [];
	try {
		const channel = await connection.createChannel();
		channel.on("error", () => undefined);
		for (let i = 0; i < max; i++) {
			const msg = await channel.get(queue, { noAck: false });
			if (!msg) break;
			const headers = msg.properties.headers ?? {};
			const pick = ["x-attempts", "x-last-error", "x-error-name", "x-original-queue", "x-dead-lettered-at"]
				.filter(h => headers[h] !== undefined)
				.map(h => `${h}=${String(headers[h])}`)
				.join(" ");
			out.push(`${pick} body=${msg.content.toString("utf8").slice(0, 600)}`);
		}
		// Closing without acking returns the messages to the queue.
		await channel.close().catch(() => undefined);
	} finally {
		await connection.close().catch(() => undefined);
	}
	return out;
}
