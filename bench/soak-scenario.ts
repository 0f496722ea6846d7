/**
 * The `soak` scenario: does the product's memory stay flat over a long run at a fixed rate? The
 * performance issue asks for "memory flat over a 10-minute soak at half load"; a leak small enough
 * to hide in a 15 s step of `load` shows over ten minutes as a steady climb of RSS.
 *
 * It starts the product alone (fresh databases and vhost, bench/product.ts), warms it up, then
 * drives it at BENCH_SOAK_RATE orders/s for BENCH_SOAK_SECONDS with the fixed-rate step of `load`
 * (bench/load-steps.ts: the same load generator, split over ten autocannon instances), sampling
 * every 5 s instead of every 250 ms: a long run needs fewer points, and each sample counts the
 * orders table, which grows to hundreds of thousands of rows. Each sample adds the RSS and VmHWM of
 * both Node processes and the live rows of the tables that grow.
 *
 * The verdict is a rule on RSS, not on the V8 heap: RSS is what the machine pays for, and it
 * includes what a heap snapshot does not (buffers, native memory of pg and amqplib).
 */
import { performance } from "node:perf_hooks";
import type { Cleanups } from "./cleanups";
import { readMemory } from "./infra";
import { runStep, stepContext, type LoadTarget, type StepContext, type StepResult } from "./load-steps";
import { startProductCluster } from "./product";
import { StepSampler } from "./sampler";

export interface SoakConfig {
	/** Offered orders/s (BENCH_SOAK_RATE). */
	rate: number;
	/** Length of the soak (BENCH_SOAK_SECONDS). */
	seconds: number;
	/** Warm-up orders before the soak, not measured (BENCH_LOAD_WARMUP). */
	warmup: number;
	/** Connections the load generator may open. */
	connections: number;
	bodies: number;
	drainTimeoutMs: number;
	sampleEveryMs: number;
}

/**
 * What the soak needs beyond BENCH_SOAK_SECONDS: starting the product (up to 60 s), the warm-up,
 * the drain (up to 60 s) and the last queries. The run's budget grows by BENCH_SOAK_SECONDS plus
 * this when `soak` is selected, so that BENCH_TIMEOUT_S keeps meaning the other scenarios' time.
 */
export const SOAK_MARGIN_S = 180;

/** The tables that grow with every order, per database. */
export const GROWING_TABLES = {
	orders: ["orders", "order_history", "outbox_events", "processed_events"],
	processor: ["processing_records", "processing_history", "outbox_events", "stock_movements"]
};

/** The verdict's thresholds: a slope below this, and an end RSS below this factor of the reference. */
export const FLAT_RULE = { maxSlopeMiBPerMinute: 1, maxGrowth: 1.2 };

export interface SoakSample {
	/** ms since the load began (negative: before the first order of the soak). */
	t: number;
	/** Orders created and finished since the soak step began; unsent outbox rows now. */
	created: number;
	finished: number;
	outboxOrders: number;
	outboxProcessor: number;
	/** Per Node process: VmRSS and VmHWM, MiB. */
	memory: Record<string, { rssMiB: number; peakMiB: number }>;
	/** Live rows (n_live_tup) of the growing tables. */
	rows: { orders: Record<string, number>; processor: Record<string, number> };
}

export interface SoakProcess {
	account: string;
	/** RSS at the reference time (1 min into the load, earlier in a short soak), at its end, and the highest, MiB. */
	rssAtReferenceMiB: number;
	rssEndMiB: number;
	rssMaxMiB: number;
	/** VmHWM at the end of the soak, MiB. */
	peakMiB: number;
	/** Least-squares slope of RSS over the last 80 % of the load, MiB per minute. */
	slopeMiBPerMinute: number;
	cpuMsPerOrder: number;
	flat: boolean;
}

export interface SoakResult {
	config: SoakConfig;
	startupMs: number;
	/** Seconds into the load of the reference RSS, and where the slope's window begins. */
	referenceSeconds: number;
	slopeFromSeconds: number;
	rule: string;
	/** Every Node process flat by the rule; null when there were too few samples to tell. */
	flat: boolean | null;
	processes: SoakProcess[];
	/** The soak as one step of `load` (without its samples, which are in `samples` below). */
	step: Omit<StepResult, "samples">;
	samples: SoakSample[];
	/** The growing tables at the end, after the drain: live rows, and count(*). */
	rowsAtEnd: { live: SoakSample["rows"]; exact: SoakSample["rows"] };
}

export const ruleText = () =>
	`flat when, for each Node process, the slope of RSS over the last 80 % of the load is below ${FLAT_RULE.maxSlopeMiBPerMinute} MiB/min ` +
	`and RSS at the end is below ${FLAT_RULE.maxGrowth} × RSS at 1 min`;

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: Array<{ x: number; y: number }>): number {
	const n = points.length;
	if (n < 2) return NaN;
	const mx = points.reduce((a, p) => a + p.x, 0) / n;
	const my = points.reduce((a, p) => a + p.y, 0) / n;
	let sxy = 0;
	let sxx = 0;
	for (const p of points) {
		sxy += (p.x - mx) * (p.y - my);
		sxx += (p.x - mx) ** 2;
	}
	return sxx > 0 ? sxy / sxx : NaN;
}

export async function runSoak(config: SoakConfig, cleanups: Cleanups, deadline: number, log: (message: string) => void): Promise<SoakResult> {
	log(`soak: starting the product`);
	const t0 = performance.now();
	const cluster = await startProductCluster(cleanups, "soak");
	const sampler = await StepSampler.open(
		{ ordersUrl: cluster.ordersDb.url, ordersName: cluster.ordersDb.name, processorUrl: cluster.processorDb.url, processorName: cluster.processorDb.name },
		config.sampleEveryMs
	);
	cleanups.add("soak sampler", () => sampler.close());
	const target: LoadTarget = {
		name: "product",
		baseUrl: cluster.baseUrl,
		processes: cluster.processes.map(p => ({ account: `node ${p.name}`, pid: p.pid })),
		sampler,
		startupMs: performance.now() - t0
	};
	log(`soak: product ready in ${target.startupMs.toFixed(0)} ms`);

	const context = stepContext("soak", config.bodies, { deadline, drainTimeoutMs: config.drainTimeoutMs, log });
	await runStep(target, { kind: "warm-up", connections: 16, amount: config.warmup }, context);

	// Wall-clock time of each sample; turned into time since the load began once the step says when that was.
	const raw: Array<Omit<SoakSample, "t"> & { at: number }> = [];
	sampler.onSample = async sample => {
		const memory: SoakSample["memory"] = {};
		for (const p of target.processes) memory[p.account] = readMemory(p.pid);
		const rows = await sampler.tableRows(GROWING_TABLES);
		const { created, finished, outboxOrders, outboxProcessor } = sample;
		raw.push({ at: Date.now(), created, finished, outboxOrders, outboxProcessor, memory, rows });
	};
	const memoryNote = () => {
		const last = raw[raw.length - 1];
		if (!last) return "";
		return `RSS ${Object.entries(last.memory).map(([account, m]) => `${account.replace(/^node /, "")} ${m.rssMiB.toFixed(0)}`).join(", ")} MiB`;
	};
	if (Date.now() + (config.seconds + 10) * 1000 > deadline) throw new Error("soak: no time left for the soak (BENCH_TIMEOUT_S)");
	const step = await runStep(
		target,
		{ kind: "rate", connections: config.connections, seconds: config.seconds, rate: config.rate },
		{ ...context, progressEveryMs: 10_000, progressNote: memoryNote }
	);
	sampler.onSample = undefined;
	const rowsAtEnd = {
		live: await sampler.tableRows(GROWING_TABLES),
		exact: await sampler.tableRows(GROWING_TABLES, true)
	};

	const samples: SoakSample[] = raw.map(({ at, ...rest }) => ({ t: at - step.loadStartedAt, ...rest }));
	const loadMs = step.loadEndedAt - step.loadStartedAt;
	// The reference: 1 min into the load, or a fifth of it in a soak shorter than 5 min (a quick check).
	const referenceMs = Math.min(60_000, 0.2 * loadMs);
	const slopeFromMs = 0.2 * loadMs;
	const inLoad = samples.filter(s => s.t >= 0 && s.t <= loadMs);
	const processes: SoakProcess[] = target.processes.map(({ account }) => {
		const rss = (s: SoakSample) => s.memory[account]?.rssMiB ?? NaN;
		const reference = inLoad.find(s => s.t >= referenceMs);
		const end = inLoad[inLoad.length - 1];
		const window = inLoad.filter(s => s.t >= slopeFromMs).map(s => ({ x: s.t / 60_000, y: rss(s) }));
		const figures = {
			account,
			rssAtReferenceMiB: reference ? rss(reference) : NaN,
			rssEndMiB: end ? rss(end) : NaN,
			rssMaxMiB: Math.max(...samples.map(rss).filter(Number.isFinite)),
			peakMiB: samples.length > 0 ? (samples[samples.length - 1].memory[account]?.peakMiB ?? NaN) : NaN,
			slopeMiBPerMinute: window.length >= 3 ? slope(window) : NaN,
			cpuMsPerOrder: step.cpu[account]?.msPerOrder ?? NaN
		};
		const flat = figures.slopeMiBPerMinute < FLAT_RULE.maxSlopeMiBPerMinute && figures.rssEndMiB < FLAT_RULE.maxGrowth * figures.rssAtReferenceMiB;
		return { ...figures, flat };
	});
	const known = processes.every(p => Number.isFinite(p.slopeMiBPerMinute) && Number.isFinite(p.rssAtReferenceMiB));
	const { samples: _stepSamples, ...stepWithoutSamples } = step;
	return {
		config,
		startupMs: target.startupMs,
		referenceSeconds: referenceMs / 1000,
		slopeFromSeconds: slopeFromMs / 1000,
		rule: ruleText(),
		flat: known ? processes.every(p => p.flat) : null,
		processes,
		step: stepWithoutSamples,
		samples,
		rowsAtEnd
	};
}
