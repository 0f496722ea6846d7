/**
 * What the bench runs against: throwaway PostgreSQL databases and RabbitMQ virtual hosts, the
 * product's own processes (`node dist/bin/start.js`), and /proc readings of those processes.
 * Adapted from test/support/services.ts and test/e2e/support/processes.ts (not part of the build).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";

const execFileAsync = promisify(execFile);

export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const BENCH_AMQP_URL = process.env.BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

/** dist/bench/infra.js → dist/bin/start.js */
const ENTRY = join(__dirname, "..", "bin", "start.js");

/** A short random suffix for names of databases, vhosts and namespaces. */
export function uniqueSuffix(): string {
	return `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

export function sleep(ms: number): Promise<void> {
	return new Promise(resolve => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a truthy value, or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
	what: string,
	probe: () => Promise<T> | T,
	timeoutMs: number,
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

export interface BenchDatabase {
	url: string;
	name: string;
	drop(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
	const admin = new Client({ connectionString: BENCH_DATABASE_URL });
	await admin.connect();
	try {
		await admin.query(sql);
	} finally {
		await admin.end();
	}
}

/** Creates an empty database; `drop()` removes it even while connections remain. */
export async function createDatabase(label: string): Promise<BenchDatabase> {
	const name = `bench_${label}_${uniqueSuffix()}`.toLowerCase();
	await adminQuery(`CREATE DATABASE "${name}"`);
	const url = new URL(BENCH_DATABASE_URL);
	url.pathname = `/${name}`;
	return {
		url: url.toString(),
		name,
		drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
	};
}

export interface BenchVhost {
	url: string;
	vhost: string;
	remove(): Promise<void>;
}

/** Creates a RabbitMQ virtual host of its own (rabbitmqctl, on this machine). */
export async function createVhost(): Promise<BenchVhost> {
	const vhost = `bench-${uniqueSuffix()}`;
	const user = new URL(BENCH_AMQP_URL).username || "guest";
	await execFileAsync("rabbitmqctl", ["add_vhost", vhost]);
	const remove = async () => {
		await execFileAsync("rabbitmqctl", ["delete_vhost", vhost]).catch(() => undefined);
	};
	try {
		await execFileAsync("rabbitmqctl", ["set_permissions", "-p", vhost, user, ".*", ".*", ".*"]);
	} catch (err) {
		await remove();
		throw err;
	}
	const url = new URL(BENCH_AMQP_URL);
	url.pathname = `/${encodeURIComponent(vhost)}`;
	return { url: url.toString(), vhost, remove };
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

export interface NodeProcess {
	name: string;
	child: ChildProcess;
	pid: number;
	/** The last part of what the process printed, for failure messages. */
	output(): string;
	/** Messages of the log lines at level warn or worse since the last `resetWarnings()`, with their counts. */
	warnings(): Map<string, number>;
	resetWarnings(): void;
	/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
	stop(graceMs?: number): Promise<void>;
}

const OUTPUT_TAIL = 20_000;

/** Starts one product node with exactly `env` (plus PATH): nothing leaks in from the caller's environment. */
export function startNode(name: string, env: Record<string, string>): NodeProcess {
	if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run 'npm run build' first (npm run bench does).`);
	const child = spawn(process.execPath, [ENTRY], {
		env: { PATH: process.env.PATH ?? "", ...env },
		stdio: ["ignore", "pipe", "pipe"]
	});
	let output = "";
	let warnings = new Map<string, number>();
	const collector = () => {
		let partial = "";
		return (chunk: Buffer) => {
			const text = chunk.toString();
			output = (output + text).slice(-OUTPUT_TAIL);
			const lines = (partial + text).split("\n");
			partial = lines.pop() ?? "";
			for (const line of lines) {
				if (!/"level":"(warn|error|fatal)"/.test(line)) continue;
				let message = line;
				try {
					message = String((JSON.parse(line) as { message?: unknown }).message ?? line);
				} catch {
					/* not a JSON line: keep it whole */
				}
				// Ids and numbers vary from line to line; the kind of message is what counts.
				message = message.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "<id>").replace(/\d+/g, "N").slice(0, 160);
				warnings.set(message, (warnings.get(message) ?? 0) + 1);
			}
		};
	};
	child.stdout?.on("data", collector());
	child.stderr?.on("data", collector());
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	const gone = () => child.exitCode !== null || child.signalCode !== null;
	return {
		name,
		child,
		pid: child.pid ?? 0,
		output: () => output,
		warnings: () => warnings,
		resetWarnings() {
			warnings = new Map();
		},
		async stop(graceMs = 15_000) {
			if (gone()) return;
			child.kill("SIGTERM");
			const timer = setTimeout(() => {
				if (!gone()) child.kill("SIGKILL");
			}, graceMs);
			await exited;
			clearTimeout(timer);
		}
	};
}

/** Resident set size and its peak (VmHWM) of a process, in MiB. */
export function readMemory(pid: number): { rssMiB: number; peakMiB: number } {
	const status = readFileSync(`/proc/${pid}/status`, "utf8");
	const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
	return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used. */
export function readCpuSeconds(pid: number): number {
	const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
	// Fields after the command name, which is in parentheses and may contain spaces.
	const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function readMachineCpu(): { busy: number; total: number } {
	const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
	const values = line.trim().split(/\s+/).slice(1).map(Number);
	const idle = (values[3] ?? 0) + (values[4] ?? 0);
	const total = values.reduce((a, b) => a + b, 0);
	return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}
