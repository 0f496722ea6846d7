/**
 * One scenario's measurements against a running product: warm-up, then rounds of
 * (a) orders one at a time — each posted and awaited to `completed` before the next: POST latency
 *     and end-to-end latency with nothing else in flight;
 * (b) a burst of `orders` at `concurrency`: POST latency under load, end-to-end latency including
 *     queueing, and throughput (orders completed per second, first POST → last completion).
 */
import { performance } from "node:perf_hooks";
import { readCpuSeconds, readMachineCpu, readMemory, type BenchProcess } from "./infra";
import { fetchOrders, postOrder, runConcurrent, type CompletionWatcher, type PostedOrder } from "./load";
import { median } from "./stats";

export interface MeasureOptions {
	/** Orders per burst. */
	orders: number;
	concurrency: number;
	rounds: number;
	warmup: number;
	/** Orders posted one at a time per round. */
	sequential: number;
	/** Epoch ms by which everything must be over (waits fail after it). */
	deadline: number;
	/** Epoch ms after which no new round starts when it would not fit (the rounds already run are reported). */
	softDeadline: number;
	/** Prints progress (stderr). */
	log(message: string): void;
}

export interface Target {
	scenario: string;
	baseUrl: string;
	processes: BenchProcess[];
	watcher: CompletionWatcher;
	/** How completion is detected, for the report. */
	watcherNote: string;
	/**
	 * When the processor received each order (its processing record was created) and finished it
	 * (record updated for the last time), where the bench can read the processor's database.
	 */
	processorTimes?(orderIds: string[]): Promise<Map<string, { received: number; processed: number }>>;
}

/** The hops of one order, from the timestamps of both databases (ms). */
export const STAGES = [
	["http", "sent → order row (HTTP, api → orders.create)"],
	["toProcessor", "order row → processor got the event"],
	["processing", "processor: received → done"],
	["back", "processor done → order completed"]
] as const;
export type Stage = (typeof STAGES)[number][0];
type StageSamples = Record<Stage, number[]>;
const noStages = (): StageSamples => ({ http: [], toProcessor: [], processing: [], back: [] });

export interface ProcessFigures {
	name: string;
	rssBeforeMiB: number;
	rssAfterMiB: number;
	peakMiB: number;
	/** CPU used during the bursts, in % of one core. */
	cpuPercent: number;
	/** CPU milliseconds per completed order during the bursts. */
	cpuMsPerOrder: number;
	/** Log lines at warn level or worse while measuring, and their kinds. */
	warnings: number;
	warningKinds: Array<[string, number]>;
}

export interface ScenarioResult {
	scenario: string;
	watcherNote: string;
	orders: number;
	concurrency: number;
	startupMs: number;
	roundsRun: number;
	/** Per round, the samples of each measure. */
	postSequential: number[][];
	e2eSequential: number[][];
	e2eSequentialSeen: number[][];
	postBurst: number[][];
	e2eBurst: number[][];
	e2eBurstSeen: number[][];
	/** Per stage, per round (empty when the processor's database cannot be read). */
	stagesSequential: Record<Stage, number[][]>;
	stagesBurst: Record<Stage, number[][]>;
	/** Per round: orders completed per second, first POST → last completion. */
	throughput: number[];
	/** Per round: orders accepted (201) per second, first POST → last 201. */
	ingestRate: number[];
	/**
	 * Per round: orders per second that reached the processor while the bench was still posting, and
	 * after its last 201 (NaN where the processor's database cannot be read).
	 */
	toProcessorWhilePosting: number[];
	toProcessorAfter: number[];
	/** Per round: ms from the last 201 to the last completion (the backlog left when posting stopped). */
	drainMs: number[];
	processes: ProcessFigures[];
	/** Whole machine CPU during the bursts, % of all cores. */
	machineCpuPercent: number;
	notCompleted: number;
}

const remaining = (options: MeasureOptions, capMs: number) => {
	const left = options.deadline - Date.now();
	if (left <= 0) throw new Error("The bench ran out of time (BENCH_TIMEOUT_S).");
	return Math.min(capMs, left);
};

interface Batch {
	posted: PostedOrder[];
	/** Per order: updatedAt − sentAt. */
	e2e: number[];
	/** Per order: when the bench saw it finish − sentAt (only where the watcher can tell). */
	seen: number[];
	stages: StageSamples;
	/** When the processor received each order (where known). */
	received: number[];
	firstSent: number;
	lastAccepted: number;
	lastCompleted: number;
	notCompleted: number;
}

async function runBatch(
	target: Target,
	options: MeasureOptions,
	customerId: string,
	count: number,
	concurrency: number,
	waitEach: boolean
): Promise<Batch> {
	const { watcher, baseUrl } = target;
	watcher.begin(customerId);
	const posted: PostedOrder[] = [];
	const seenAt = new Map<string, number>();
	let lastAccepted = 0;
	await runConcurrent(count, concurrency, async i => {
		const order = await postOrder(baseUrl, customerId, i);
		lastAccepted = Math.max(lastAccepted, order.sentAt + order.latencyMs);
		posted.push(order);
		watcher.add(order.id);
		if (waitEach) for (const [id, at] of await watcher.done(remaining(options, 30_000))) seenAt.set(id, at);
	});
	for (const [id, at] of await watcher.done(remaining(options, 120_000))) seenAt.set(id, at);

	const finished = await fetchOrders(baseUrl, customerId);
	const processor = target.processorTimes ? await target.processorTimes(posted.map(o => o.id)) : undefined;
	const stages = noStages();
	const received: number[] = [];
	const e2e: number[] = [];
	const seen: number[] = [];
	let lastCompleted = 0;
	let notCompleted = 0;
	for (const order of posted) {
		const row = finished.get(order.id);
		if (!row || row.status !== "completed") {
			notCompleted++;
			continue;
		}
		e2e.push(row.updatedAt - order.sentAt);
		lastCompleted = Math.max(lastCompleted, row.updatedAt);
		const at = seenAt.get(order.id);
		if (at !== undefined) seen.push(at - order.sentAt);
		const times = processor?.get(order.id);
		if (times) {
			received.push(times.received);
			stages.http.push(row.createdAt - order.sentAt);
			stages.toProcessor.push(times.received - row.createdAt);
			stages.processing.push(times.processed - times.received);
			stages.back.push(row.updatedAt - times.processed);
		}
	}
	return {
		posted,
		e2e,
		seen,
		stages,
		received,
		firstSent: Math.min(...posted.map(o => o.sentAt)),
		lastAccepted,
		lastCompleted,
		notCompleted
	};
}

export async function measure(target: Target, options: MeasureOptions, startupMs: number): Promise<ScenarioResult> {
	const { scenario, processes } = target;
	const result: ScenarioResult = {
		scenario,
		watcherNote: target.watcherNote,
		orders: options.orders,
		concurrency: options.concurrency,
		startupMs,
		roundsRun: 0,
		postSequential: [],
		e2eSequential: [],
		e2eSequentialSeen: [],
		postBurst: [],
		e2eBurst: [],
		e2eBurstSeen: [],
		stagesSequential: { http: [], toProcessor: [], processing: [], back: [] },
		stagesBurst: { http: [], toProcessor: [], processing: [], back: [] },
		throughput: [],
		ingestRate: [],
		drainMs: [],
		toProcessorWhilePosting: [],
		toProcessorAfter: [],
		processes: [],
		machineCpuPercent: NaN,
		notCompleted: 0
	};
	const tag = `bench-${scenario}-${Date.now().toString(36)}`;
	for (const p of processes) p.resetWarnings();

	if (options.warmup > 0) {
		const t = performance.now();
		const warm = await runBatch(target, options, `${tag}-warmup`, options.warmup, options.concurrency, false);
		result.notCompleted += warm.notCompleted;
		options.log(`${scenario}: warm-up of ${options.warmup} orders in ${(performance.now() - t).toFixed(0)} ms`);
	}

	const rssBefore = processes.map(p => readMemory(p.pid).rssMiB);
	const cpu = processes.map(() => 0);
	let machineBusy = 0;
	let machineTotal = 0;
	let burstWallSeconds = 0;
	let burstOrders = 0;
	const roundsStart = Date.now();

	for (let round = 1; round <= options.rounds; round++) {
		const roundStart = Date.now();
		const averageRoundMs = round > 1 ? (roundStart - roundsStart) / (round - 1) : 0;
		if (round > 1 && roundStart + 1.2 * averageRoundMs > options.softDeadline) {
			options.log(`${scenario}: stopping after ${round - 1} rounds: the next one would not fit in the time budget`);
			break;
		}
		if (options.sequential > 0) {
			const seq = await runBatch(target, options, `${tag}-r${round}-seq`, options.sequential, 1, true);
			result.postSequential.push(seq.posted.map(o => o.latencyMs));
			result.e2eSequential.push(seq.e2e);
			result.e2eSequentialSeen.push(seq.seen);
			for (const [stage] of STAGES) result.stagesSequential[stage].push(seq.stages[stage]);
			result.notCompleted += seq.notCompleted;
		}

		const cpuStart = processes.map(p => readCpuSeconds(p.pid));
		const machineStart = readMachineCpu();
		const wallStart = performance.now();
		const burst = await runBatch(target, options, `${tag}-r${round}-burst`, options.orders, options.concurrency, false);
		const wallSeconds = (performance.now() - wallStart) / 1000;
		const machineEnd = readMachineCpu();
		processes.forEach((p, i) => (cpu[i] += readCpuSeconds(p.pid) - cpuStart[i]));
		machineBusy += machineEnd.busy - machineStart.busy;
		machineTotal += machineEnd.total - machineStart.total;
		burstWallSeconds += wallSeconds;
		burstOrders += burst.e2e.length;

		result.postBurst.push(burst.posted.map(o => o.latencyMs));
		result.e2eBurst.push(burst.e2e);
		result.e2eBurstSeen.push(burst.seen);
		for (const [stage] of STAGES) result.stagesBurst[stage].push(burst.stages[stage]);
		result.notCompleted += burst.notCompleted;
		const completed = burst.e2e.length;
		const throughput = completed / ((burst.lastCompleted - burst.firstSent) / 1000);
		result.throughput.push(throughput);
		result.ingestRate.push(burst.posted.length / ((burst.lastAccepted - burst.firstSent) / 1000));
		result.drainMs.push(Math.max(0, burst.lastCompleted - burst.lastAccepted));
		if (burst.received.length > 0) {
			const early = burst.received.filter(t => t <= burst.lastAccepted).length;
			const lastReceived = Math.max(...burst.received);
			result.toProcessorWhilePosting.push(early / ((burst.lastAccepted - burst.firstSent) / 1000));
			result.toProcessorAfter.push(
				lastReceived > burst.lastAccepted ? (burst.received.length - early) / ((lastReceived - burst.lastAccepted) / 1000) : NaN
			);
		}
		result.roundsRun = round;
		options.log(
			`${scenario}: round ${round}/${options.rounds}: ${completed} orders at ${throughput.toFixed(1)}/s, ` +
				`e2e median ${median(burst.e2e).toFixed(0)} ms`
		);
	}

	result.processes = processes.map((p, i) => {
		const memory = readMemory(p.pid);
		return {
			name: p.name,
			rssBeforeMiB: rssBefore[i],
			rssAfterMiB: memory.rssMiB,
			peakMiB: memory.peakMiB,
			cpuPercent: (100 * cpu[i]) / burstWallSeconds,
			cpuMsPerOrder: (1000 * cpu[i]) / burstOrders,
			warnings: [...p.warnings().values()].reduce((a, b) => a + b, 0),
			warningKinds: [...p.warnings()].sort((a, b) => b[1] - a[1])
		};
	});
	result.machineCpuPercent = (100 * machineBusy) / machineTotal;
	return result;
}
