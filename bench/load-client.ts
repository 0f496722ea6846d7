/**
 * The load generator of the `load` scenario, run as a child process of the bench so that its CPU
 * shows up on its own pid in /proc instead of mixing with the bench's sampler. It reads one job
 * (one JSON line) on stdin, sends the orders, and prints one result (JSON line) on stdout.
 *
 * Modes:
 * - `concurrency`: `connections` connections, each sending its next order as soon as the previous
 *   one is answered, for `seconds` (a closed loop: it finds the peak);
 * - `rate`: `rate` orders/s in total for `seconds`, an open loop: one order every 1/rate s from
 *   paced-client.ts (autocannon's `overallRate` sends each connection's second in one burst);
 * - `amount`: `amount` orders over `connections` connections, then stop (the warm-up).
 *
 * The bodies are the bench's, sent in turn from one shared counter, so concurrent requests carry
 * different SKUs just as the bench's other scenarios do.
 */
import { PerformanceObserver, monitorEventLoopDelay } from "node:perf_hooks";
import autocannon from "autocannon";
import { runPaced } from "./paced-client";
import { percentile } from "./stats";

export interface LoadClientJob {
	url: string;
	authorization: string;
	bodies: string[];
	mode: "concurrency" | "rate" | "amount";
	connections: number;
	seconds?: number;
	rate?: number;
	amount?: number;
}

export interface LoadClientResult {
	/** Wall-clock ms: the first instance started, the last one finished. */
	startedAt: number;
	endedAt: number;
	/** Requests answered, 201s among them, and everything else (other statuses, socket errors, timeouts). */
	responses: number;
	created: number;
	errors: number;
	statuses: Record<string, number>;
	socketErrors: number;
	/** Answer time of every 201, ms: request written → whole answer read. */
	latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
	/**
	 * The same for the 201s of the orders sent after the first second: the step's steady state,
	 * without the first second's start-up (new connections, a system just back from another step).
	 */
	latencySteadyMs: { p50: number; p95: number; p99: number; max: number };
	/**
	 * This process's own stalls while it sent: its longest garbage-collection pause and its longest
	 * event-loop delay, ms. An answer that came during a stall is read late and counted slower than it was.
	 */
	stalls: {
		gcMaxMs: number;
		gcTotalMs: number;
		loopDelayMaxMs: number;
		loopDelayP99Ms: number;
		/** Paced steps only: how late orders were written after their due time, ms (p99, max). */
		sendLagMs?: { p99: number; max: number };
	};
	/** The slowest 201 among the orders sent in each second after `startedAt`, ms. */
	slowestPerSecond: number[];
	/** 201s in each second after `startedAt`. */
	createdPerSecond: number[];
	/** The first answer that was not a 201, for the error message. */
	firstError?: string;
	/** CPU seconds this process had used when it began to send (starting Node, loading autocannon). */
	startupCpuSeconds: number;
}

/** The job: the first line on stdin. */
function readJob(): Promise<LoadClientJob> {
	return new Promise((resolve, reject) => {
		let text = "";
		let done = false;
		process.stdin.on("data", (chunk: Buffer) => {
			if (done) return; // stdin stays open only so that its end can be seen
			text += chunk.toString();
			const newline = text.indexOf("\n");
			if (newline < 0) return;
			done = true;
			try {
				resolve(JSON.parse(text.slice(0, newline)) as LoadClientJob);
			} catch (err) {
				reject(err as Error);
			}
		});
	});
}

/** The event-loop delay histogram's timer interval, ms. */
const LOOP_DELAY_RESOLUTION_MS = 1;

async function run(job: LoadClientJob): Promise<LoadClientResult> {
	const latencies: number[] = [];
	const steady: number[] = [];
	const slowestPerSecond: number[] = [];
	/** Records the answer time of a 201, by the second its order was sent in. */
	const record = (ms: number) => {
		latencies.push(ms);
		const sent = Math.max(0, Math.floor((Date.now() - ms - startedAt) / 1000));
		if (sent >= 1) steady.push(ms);
		slowestPerSecond[sent] = Math.max(slowestPerSecond[sent] ?? 0, ms);
	};
	/** Counts an answer: its status, and for a 201 its time and the second it came in. */
	const answered = (status: number, ms: number) => {
		responses++;
		statuses[status] = (statuses[status] ?? 0) + 1;
		if (status !== 201) return;
		record(ms);
		created++;
		const second = Math.floor((Date.now() - startedAt) / 1000);
		createdPerSecond[second] = (createdPerSecond[second] ?? 0) + 1;
	};
	const statuses: Record<string, number> = {};
	const createdPerSecond: number[] = [];
	let responses = 0;
	let created = 0;
	let socketErrors = 0;
	let firstError: string | undefined;
	let next = 0;
	const startup = process.cpuUsage();
	let gcMaxMs = 0;
	let gcTotalMs = 0;
	const gcObserver = new PerformanceObserver(list => {
		for (const entry of list.getEntries()) {
			gcMaxMs = Math.max(gcMaxMs, entry.duration);
			gcTotalMs += entry.duration;
		}
	});
	gcObserver.observe({ entryTypes: ["gc"] });
	const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
	loopDelay.enable();
	let startedAt = Date.now();

	const request: autocannon.Request = {
		method: "POST",
		path: "/api/orders",
		setupRequest(req) {
			req.body = job.bodies[next++ % job.bodies.length];
			return req;
		},
		onResponse(status, body) {
			if (status !== 201 && firstError === undefined) firstError = `${status} ${body.slice(0, 300)}`;
		}
	};

	const runAutocannon = () =>
		new Promise<void>((resolve, reject) => {
			const instance = autocannon(
				{
					url: job.url,
					headers: { "content-type": "application/json", authorization: job.authorization },
					requests: [request],
					timeout: 10,
					connections: job.connections,
					...(job.mode === "amount" ? { amount: job.amount } : { duration: job.seconds })
				},
				err => (err ? reject(err) : resolve())
			);
			instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => answered(status, ms));
			instance.on("reqError", (err: Error) => {
				socketErrors++;
				firstError ??= err.message;
			});
		});

	let sendLagMs: LoadClientResult["stalls"]["sendLagMs"];
	if (job.mode === "rate") {
		const paced = await runPaced(
			{ ...job, rate: job.rate ?? 0, seconds: job.seconds ?? 0 },
			{
				started: () => (startedAt = Date.now()),
				answered: (status, ms, body) => {
					answered(status, ms);
					if (status !== 201 && firstError === undefined) firstError = `${status} ${body.toString().slice(0, 300)}`;
				},
				failed: message => {
					socketErrors++;
					firstError ??= message;
				}
			}
		);
		sendLagMs = paced.sendLagMs;
	} else await runAutocannon();
	const endedAt = Date.now();
	gcObserver.disconnect();
	loopDelay.disable();
	return {
		stalls: {
			gcMaxMs,
			gcTotalMs,
			// The histogram holds the time between the timer's runs: the delay is what exceeds its interval.
			loopDelayMaxMs: Math.max(0, loopDelay.max / 1e6 - LOOP_DELAY_RESOLUTION_MS),
			loopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_DELAY_RESOLUTION_MS),
			...(sendLagMs ? { sendLagMs } : {})
		},
		startedAt,
		endedAt,
		responses,
		created,
		errors: responses - created + socketErrors,
		statuses,
		socketErrors,
		latencyMs: {
			p50: percentile(latencies, 50),
			p95: percentile(latencies, 95),
			p99: percentile(latencies, 99),
			max: latencies.reduce((a, b) => Math.max(a, b), 0),
			mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, created)
		},
		latencySteadyMs: {
			p50: percentile(steady, 50),
			p95: percentile(steady, 95),
			p99: percentile(steady, 99),
			max: steady.reduce((a, b) => Math.max(a, b), 0)
		},
		slowestPerSecond: Array.from(slowestPerSecond, n => Math.round(n ?? 0)),
		createdPerSecond: Array.from(createdPerSecond, n => n ?? 0),
		firstError,
		startupCpuSeconds: (startup.user + startup.system) / 1e6
	};
}

// The process ends when the bench closes stdin: after the result, once the bench has read this
// process's CPU in /proc; before it, when the bench itself is gone (its end of the pipe closes).
let printed = false;
process.stdin.once("end", () => process.exit(printed ? 0 : 1));
readJob()
	.then(run)
	.then(
		result => {
			process.stdout.write(JSON.stringify(result) + "\n");
			printed = true;
		},
		err => {
			process.stderr.write(`load client failed: ${(err as Error).stack ?? err}\n`);
			process.exit(1);
		}
	);
