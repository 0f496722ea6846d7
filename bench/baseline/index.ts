/**
 * The baseline: the order pipeline written by hand with pg and amqplib, the yardstick `npm run
 * bench` measures the product against, on the same orders in the same run. Two processes, as the
 * product's cluster (`api,orders` and `processor`), each with a database of its own:
 *
 * - baseline-orders (orders.ts): `POST /api/orders` inserts a pending order and its
 *   `order.created` event in one transaction and answers 201; a consumer of `order.processed`
 *   moves the order to completed or failed.
 * - baseline-processor (processor.ts): a consumer of `order.created` reserves the stock (rows
 *   locked in sku order) or fails the order, and queues `order.processed`, in one transaction.
 *
 * The guarantees are the product's: every commit is synchronous (PostgreSQL's defaults); both
 * services write their events to an outbox in the transaction of the change, and a relay
 * publishes them as persistent messages to durable queues on a confirm channel, marking them sent
 * only once the broker confirmed; consumers ack only after their transaction committed and requeue
 * on error; redeliveries change nothing twice (the processor's unique order id, the orders
 * service's inbox of event ids). The relay does what the product's does: batches of 50 claimed
 * for a lease, published together, one UPDATE after the confirms. Prefetch 8, pools of 10.
 *
 * What it leaves out, so a reader can judge the comparison: authentication (the Authorization
 * header is ignored), rate limits, Idempotency-Key, validation beyond the shape of the body,
 * reading orders back, retries with backoff and dead letters (a failing message is requeued at
 * once), reconnection to the broker (a lost connection ends the process), history and stock
 * ledger rows, order expiry, outbox pruning, metrics, tracing and structured logs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export interface BaselineOptions {
	/** A fresh, empty database (it exists already). */
	ordersDatabaseUrl: string;
	/** Another fresh, empty database. */
	processorDatabaseUrl: string;
	/** Includes a fresh vhost of its own. */
	amqpUrl: string;
	/** HTTP port of the orders process, on 127.0.0.1. */
	port: number;
	log?(message: string): void;
}

export interface BaselineHandle {
	/** http://127.0.0.1:<port> */
	baseUrl: string;
	/** "baseline-orders" and "baseline-processor". */
	processes: Array<{ name: string; pid: number }>;
	/** SIGTERM, then SIGKILL after a grace; resolves when both are gone. */
	stop(): Promise<void>;
}

export interface BaselineProcess {
	name: string;
	child: ChildProcess;
	/** Resolves once the process is ready (HTTP answers, consumer subscribed); fails if it exits first. */
	ready: Promise<void>;
	stop(graceMs?: number): Promise<void>;
}

/**
 * Starts one compiled baseline process (dist/bench/baseline/<file>.js) with exactly `env` (plus
 * PATH). Its output goes to `log` line by line; it says it is ready with an IPC message.
 */
function spawnBaselineProcess(name: string, file: "orders" | "processor", env: Record<string, string>, log?: (m: string) => void): BaselineProcess {
	const child = spawn(process.execPath, [join(__dirname, `${file}.js`)], {
		env: { PATH: process.env.PATH ?? "", BASELINE_NAME: name, ...env },
		stdio: ["ignore", "pipe", "pipe", "ipc"]
	});
	let tail = "";
	const collect = (chunk: Buffer) => {
		tail = (tail + chunk.toString()).slice(-4000);
		for (const line of chunk.toString().split("\n")) if (line.trim()) log?.(line);
	};
	child.stdout?.on("data", collect);
	child.stderr?.on("data", collect);
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	const ready = new Promise<void>((resolve, reject) => {
		child.on("message", message => message === "ready" && resolve());
		child.once("exit", code => reject(new Error(`${name} exited (${code}) before it was ready:\n${tail}`)));
	});
	ready.catch(() => undefined);
	return {
		name,
		child,
		ready,
		async stop(graceMs = 10_000) {
			if (child.exitCode !== null || child.signalCode !== null) return;
			const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
			child.kill("SIGTERM");
			await exited;
			clearTimeout(timer);
		}
	};
}

/** Starts both processes and resolves once both are ready; if either fails, both are stopped. */
export async function startBaseline(o: BaselineOptions): Promise<BaselineHandle> {
	const common = { BASELINE_AMQP_URL: o.amqpUrl };
	const processes = [
		spawnBaselineProcess("baseline-orders", "orders", { ...common, BASELINE_DATABASE_URL: o.ordersDatabaseUrl, BASELINE_PORT: String(o.port) }, o.log),
		spawnBaselineProcess("baseline-processor", "processor", { ...common, BASELINE_DATABASE_URL: o.processorDatabaseUrl }, o.log)
	];
	const stop = async () => {
		await Promise.all(processes.map(p => p.stop()));
	};
	try {
		await Promise.all(processes.map(p => p.ready));
	} catch (err) {
		await stop();
		throw err;
	}
	return {
		baseUrl: `http://127.0.0.1:${o.port}`,
		processes: processes.map(p => ({ name: p.name, pid: p.child.pid ?? 0 })),
		stop
	};
}
