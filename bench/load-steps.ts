/**
 * One step of the `load` scenario against one target: the load generator (bench/load-client.ts) runs
 * in a child process while the sampler watches the target; then the bench waits until every order
 * of the step has left `pending`, and turns the readings into the step's figures.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { adminAuthorization, sleep } from "../test/support/services";
import { readMemory } from "./infra";
import type { LoadClientJob, LoadClientResult } from "./load-client";
import { orderBody } from "./load";
import type { Sample, StepSampler, WatchedProcess } from "./sampler";

export type StepKind = "warm-up" | "concurrency" | "rate";

export interface LoadTarget {
	/** `product`, `baseline`, or `product@<short commit>` with BENCH_COMPARE_REF. */
	name: string;
	baseUrl: string;
	/** The target's own Node processes (account `node <name>`). */
	processes: WatchedProcess[];
	sampler: StepSampler;
	startupMs: number;
}

export interface StepSpec {
	kind: StepKind;
	/** Connections (concurrency, warm-up), or at most this many (rate). */
	connections: number;
	seconds?: number;
	/** Offered orders/s (rate). */
	rate?: number;
	/** Orders to send (warm-up). */
	amount?: number;
	repeat?: number;
}

export interface StepContext {
	bodies: string[];
	/** Epoch ms by which the step must be over. */
	deadline: number;
	/** The longest wait for a step's orders to finish after the load stops. */
	drainTimeoutMs: number;
	/** How often the progress line is written: every second unless a long run (soak) asks for less. */
	progressEveryMs?: number;
	/** More to say on the progress line (the soak adds the processes' memory). */
	progressNote?: () => string;
	log(message: string): void;
}

/** A step context whose bodies are `count` orders of one customer named after `scenario` and now. */
export function stepContext(scenario: string, count: number, options: Omit<StepContext, "bodies">): StepContext {
	const customer = `bench-${scenario}-${Date.now().toString(36)}`;
	return { bodies: Array.from({ length: count }, (_, i) => orderBody(customer, i)), ...options };
}

export interface Percentiles {
	p50: number;
	p95: number;
	p99: number;
}

export interface StepResult {
	target: LoadTarget["name"];
	kind: StepKind;
	/** e.g. `c=64` or `offered 120/s`. */
	label: string;
	repeat: number;
	connections: number;
	seconds: number;
	offeredRate?: number;
	/**
	 * 201s per second: the mean over the whole seconds of the run but the first (ramp-up) and the
	 * last (cut off); with fewer than three seconds, 201s over the configured duration.
	 */
	achievedRate: number;
	/** Wall-clock ms: load started, load ended, last order of the step finished. */
	loadStartedAt: number;
	loadEndedAt: number;
	drainedAt: number;
	created: number;
	errors: number;
	statuses: Record<string, number>;
	firstError?: string;
	/** Orders that left `pending` during the load window, per second of that window. */
	finishedPerSecond: number;
	/** Orders of the step finished, per second from the start of the load to the last one finished. */
	finishedPerSecondToDrain: number;
	/** Orders that left `pending` between the start of the step and the drain. */
	finished: number;
	createLatencyMs: Percentiles & { max: number; mean: number };
	/** Create latency of the orders sent after the step's first second (its steady state). */
	createLatencySteadyMs: Percentiles & { max: number };
	/** The load generator's own longest GC pause and event-loop delay (answers read late count slower). */
	loaderStalls: LoadClientResult["stalls"];
	/** The slowest create among the orders sent in each second of the step, ms. */
	createSlowestPerSecondMs: number[];
	sagaLatencyMs: Percentiles & { orders: number; failed: number };
	/** Per account (process or group of backends): CPU seconds over the step and the drain, and ms per finished order. */
	cpu: Record<string, { seconds: number; msPerOrder: number; percentOfCore: number }>;
	/** Everything but the load generator, ms per finished order. */
	systemCpuMsPerOrder: number;
	/** The load generator once it sends (without starting Node and loading autocannon), ms per 201. */
	loaderSendingCpuMsPerOrder: number;
	/** PostgreSQL backends seen per database. */
	backends: Record<string, number>;
	/** VmHWM after the step, MiB, per Node process (the load generator's is its own, for this step). */
	peakMemoryMiB: Record<string, number>;
	outboxMax: { orders: number; processor: number };
	/** Every sample of the step (ms since the step began). */
	samples: Sample[];
}

const LOAD_CLIENT = join(__dirname, "load-client.js");

export function stepLabel(spec: StepSpec): string {
	if (spec.kind === "rate") return `offered ${spec.rate}/s`;
	if (spec.kind === "warm-up") return `warm-up ${spec.amount}`;
	return `c=${spec.connections}`;
}

/** Runs the load generator; resolves with its result once it has printed it (it then waits for stdin to close). */
function startLoadClient(job: LoadClientJob, timeoutMs: number) {
	const child = spawn(process.execPath, [...(process.env.BENCH_LOADER_NODE_ARGS?.split(" ").filter(Boolean) ?? []), LOAD_CLIENT], { stdio: ["pipe", "pipe", "pipe"] });
	let stdout = "";
	let stderr = "";
	child.stderr.on("data", chunk => (stderr += chunk));
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	const result = new Promise<LoadClientResult>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`the load generator gave no result within ${timeoutMs} ms`)), timeoutMs);
		child.stdout.on("data", chunk => {
			stdout += chunk;
			if (!stdout.includes("\n")) return;
			clearTimeout(timer);
			try {
				resolve(JSON.parse(stdout) as LoadClientResult);
			} catch (err) {
				reject(err as Error);
			}
		});
		child.once("exit", code => {
			clearTimeout(timer);
			reject(new Error(`the load generator exited (${code}) without a result: ${stderr.slice(-2000)}`));
		});
	});
	child.stdin.write(JSON.stringify(job) + "\n");
	return {
		pid: child.pid ?? 0,
		result,
		async close() {
			child.stdin.end();
			const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
			await exited;
			clearTimeout(timer);
		}
	};
}

/** Rate of `finished` between the first sample at or after `from` and the last at or before `to` (wall ms). */
function finishedRate(samples: Sample[], stepStart: number, from: number, to: number): number {
	const inside = samples.filter(s => stepStart + s.t >= from && stepStart + s.t <= to);
	if (inside.length < 2) return NaN;
	const first = inside[0];
	const last = inside[inside.length - 1];
	return (last.finished - first.finished) / ((last.t - first.t) / 1000);
}

function achievedRate(load: LoadClientResult, seconds: number): number {
	const steady = load.createdPerSecond.slice(1, seconds);
	if (seconds >= 3 && steady.length > 0) return steady.reduce((a, b) => a + b, 0) / steady.length;
	return seconds > 0 ? load.created / seconds : NaN;
}

export async function runStep(target: LoadTarget, spec: StepSpec, context: StepContext): Promise<StepResult> {
	const label = stepLabel(spec);
	const name = `${target.name} ${label}`;
	const seconds = spec.seconds ?? 0;
	const { sampler } = target;
	await sampler.begin(target.processes);
	const client = startLoadClient(
		{
			url: target.baseUrl,
			authorization: await adminAuthorization(),
			bodies: context.bodies,
			mode: spec.kind === "warm-up" ? "amount" : spec.kind,
			connections: spec.connections,
			seconds,
			rate: spec.rate,
			amount: spec.amount
		},
		Math.max(0, Math.min(seconds * 1000 + 30_000, context.deadline - Date.now()))
	);
	sampler.watch({ account: "load generator", pid: client.pid });
	const began = Date.now();
	const progress = setInterval(() => {
		const s = sampler.latest;
		const note = context.progressNote?.();
		context.log(
			`${name}: ${((Date.now() - began) / 1000).toFixed(0)}/${seconds || "?"} s, created ${s.created}, finished ${s.finished}, ` +
				`unsent outbox ${s.outboxOrders} orders / ${s.outboxProcessor} processor${note ? `, ${note}` : ""}`
		);
	}, context.progressEveryMs ?? 1000);
	let load: LoadClientResult;
	let loaderMemoryMiB = NaN;
	try {
		load = await client.result;
		// The generator's last CPU and memory, before it exits.
		loaderMemoryMiB = readMemory(client.pid).peakMiB;
		await sampler.sampleNow();
	} finally {
		clearInterval(progress);
		await client.close();
	}

	const drainBy = Math.min(Date.now() + context.drainTimeoutMs, context.deadline);
	let pending = await sampler.pending();
	while (pending > 0) {
		if (Date.now() > drainBy) {
			await sampler.end().catch(() => undefined);
			throw new Error(`${name}: ${pending} orders still pending ${((Date.now() - load.endedAt) / 1000).toFixed(0)} s after the load stopped`);
		}
		await sleep(100);
		pending = await sampler.pending();
	}
	const drainedAt = Date.now();
	const reading = await sampler.end();
	const saga = await sampler.sagaLatency(load.startedAt, load.endedAt);
	const finished = reading.samples[reading.samples.length - 1]?.finished ?? 0;
	const stepSeconds = (drainedAt - reading.startedAt) / 1000;
	const cpu: StepResult["cpu"] = {};
	let systemCpu = 0;
	for (const [account, cpuSeconds] of Object.entries(reading.cpuSeconds)) {
		cpu[account] = { seconds: cpuSeconds, msPerOrder: (1000 * cpuSeconds) / finished, percentOfCore: (100 * cpuSeconds) / stepSeconds };
		if (account !== "load generator") systemCpu += cpuSeconds;
	}
	const peakMemoryMiB: Record<string, number> = { "load generator": loaderMemoryMiB };
	for (const p of target.processes) peakMemoryMiB[p.account] = readMemory(p.pid).peakMiB;

	const result: StepResult = {
		target: target.name,
		kind: spec.kind,
		label,
		repeat: spec.repeat ?? 1,
		connections: spec.connections,
		seconds,
		offeredRate: spec.rate,
		achievedRate: achievedRate(load, seconds),
		loadStartedAt: load.startedAt,
		loadEndedAt: load.endedAt,
		drainedAt,
		created: load.created,
		errors: load.errors,
		statuses: load.statuses,
		firstError: load.firstError,
		finishedPerSecond: finishedRate(reading.samples, reading.startedAt, load.startedAt, load.endedAt),
		finishedPerSecondToDrain: finished / ((drainedAt - load.startedAt) / 1000),
		finished,
		createLatencyMs: load.latencyMs,
		createLatencySteadyMs: load.latencySteadyMs,
		createSlowestPerSecondMs: load.slowestPerSecond,
		loaderStalls: load.stalls,
		sagaLatencyMs: saga,
		cpu,
		systemCpuMsPerOrder: (1000 * systemCpu) / finished,
		loaderSendingCpuMsPerOrder: (1000 * ((cpu["load generator"]?.seconds ?? NaN) - load.startupCpuSeconds)) / load.created,
		backends: reading.backends,
		peakMemoryMiB,
		outboxMax: {
			orders: Math.max(0, ...reading.samples.map(s => s.outboxOrders)),
			processor: Math.max(0, ...reading.samples.map(s => s.outboxProcessor))
		},
		samples: reading.samples
	};
	context.log(
		`${name}: ${load.created} created (${load.errors} errors), ${finished} finished, ` +
			`${result.finishedPerSecond.toFixed(1)}/s in the window, drained ${((drainedAt - load.endedAt) / 1000).toFixed(1)} s after the load`
	);
	if (load.errors > 0) context.log(`${name}: first error: ${load.firstError}`);
	return result;
}
