/**
 * The `load` scenario: the product (the two processes of `cluster`) against the hand-written
 * baseline (bench/baseline), both up at once on databases and vhosts of their own, driven in turn
 * with the same order bodies by autocannon in a child process.
 *
 * Steps, each target in turn: a warm-up; the fixed-concurrency step (the peak), repeated
 * `repeats` times alternating the targets; then the fixed-rate steps, at 25, 50 and 75 % of the
 * rate the product sustained in the fixed-concurrency step unless BENCH_LOAD_RATES names them.
 *
 * With BENCH_COMPARE_REF a third target, `product@<ref>`, is the product built from that commit
 * (bench/compare.ts), started the same way and measured in every step, so that a change to the
 * product is measured before and after in the same run.
 */
import { performance } from "node:perf_hooks";
import { startBaseline } from "./baseline";
import type { Cleanups } from "./cleanups";
import type { CompareCheckout } from "./compare";
import { runStep, stepContext, type LoadTarget, type StepContext, type StepResult, type StepSpec } from "./load-steps";
import { benchCluster, startProductCluster } from "./product";
import { StepSampler, type TargetDatabases } from "./sampler";
import { median } from "./stats";

export interface LoadConfig {
	concurrency: number;
	seconds: number;
	/** Offered rates (orders/s); empty: 25/50/75 % of the product's peak. */
	rates: number[];
	repeats: number;
	warmup: number;
	/** Connections the fixed-rate steps may open. */
	rateConnections: number;
	/** Distinct order bodies sent in turn. */
	bodies: number;
	drainTimeoutMs: number;
}

export const DEFAULT_RATE_SHARES = [0.25, 0.5, 0.75];

export interface LoadResult {
	config: LoadConfig;
	/** The fixed rates used, and where they came from. */
	rates: number[];
	ratesFrom: string;
	targets: Array<{ name: string; startupMs: number; processes: string[] }>;
	/** BENCH_COMPARE_REF: the commit the third target was built from, and that target's name. */
	compare?: { ref: string; commit: string; target: string };
	steps: StepResult[];
	warmups: StepResult[];
	/** Steps that did not run, with why. */
	skipped: string[];
}

/** Opens a target's sampler and registers its closing. */
async function samplerFor(cleanups: Cleanups, name: string, databases: TargetDatabases): Promise<StepSampler> {
	const sampler = await StepSampler.open(databases);
	cleanups.add(`${name} sampler`, () => sampler.close());
	return sampler;
}

/**
 * The product's two processes, from this checkout's build, or from another commit's (`compare`):
 * the same function, environment and readiness wait for both, only the start.js differs.
 */
async function startProduct(cleanups: Cleanups, compare?: CompareCheckout): Promise<LoadTarget> {
	const t = performance.now();
	const name = compare?.target ?? "product";
	// Database names are lower case: t_load_ref_2e910be_orders_….
	const label = compare ? `load_ref_${compare.target.slice("product@".length)}` : "load_product";
	const cluster = await startProductCluster(cleanups, label, compare?.entry);
	const sampler = await samplerFor(cleanups, name, {
		ordersUrl: cluster.ordersDb.url,
		ordersName: cluster.ordersDb.name,
		processorUrl: cluster.processorDb.url,
		processorName: cluster.processorDb.name
	});
	return {
		name,
		baseUrl: cluster.baseUrl,
		processes: cluster.processes.map(p => ({ account: `node ${p.name}`, pid: p.pid })),
		sampler,
		startupMs: performance.now() - t
	};
}

async function startBaselineTarget(cleanups: Cleanups, log: (message: string) => void): Promise<LoadTarget> {
	const t = performance.now();
	const { ordersDb, processorDb, vhost, port } = await benchCluster(cleanups, "load_baseline");
	const handle = await startBaseline({
		ordersDatabaseUrl: ordersDb.url,
		processorDatabaseUrl: processorDb.url,
		amqpUrl: vhost.url,
		port,
		log: message => log(`baseline: ${message}`)
	});
	cleanups.add("baseline processes", () => handle.stop());
	const sampler = await samplerFor(cleanups, "baseline", {
		ordersUrl: ordersDb.url,
		ordersName: ordersDb.name,
		processorUrl: processorDb.url,
		processorName: processorDb.name
	});
	return {
		name: "baseline",
		baseUrl: handle.baseUrl,
		processes: handle.processes.map(p => ({ account: `node ${p.name}`, pid: p.pid })),
		sampler,
		startupMs: performance.now() - t
	};
}

/**
 * What a target sustained end to end in a fixed-concurrency step: orders created per second, or the
 * step's orders finished per second up to the last one, whichever is lower. Not the finished rate
 * of the load window alone: a short step ends before an outbox that lags has caught up.
 */
const sustained = (s: StepResult) => Math.min(s.achievedRate, s.finishedPerSecondToDrain);

export async function runLoad(
	config: LoadConfig,
	cleanups: Cleanups,
	deadline: number,
	log: (message: string) => void,
	compare?: CompareCheckout
): Promise<LoadResult> {
	log(`load: starting the product${compare ? `, ${compare.target}` : ""} and the baseline`);
	const product = await startProduct(cleanups);
	log(`load: product ready in ${product.startupMs.toFixed(0)} ms`);
	const baseline = await startBaselineTarget(cleanups, log);
	log(`load: baseline ready in ${baseline.startupMs.toFixed(0)} ms`);
	const targets = [product, baseline];
	if (compare) {
		const before = await startProduct(cleanups, compare);
		log(`load: ${before.name} ready in ${before.startupMs.toFixed(0)} ms`);
		// Next to the product, so that reversing the order each step keeps the two products back to
		// back, one first in one step and second in the next: the comparison that matters most.
		targets.splice(1, 0, before);
	}

	// The same bodies for every target, as the other scenarios build them.
	const context = stepContext("load", config.bodies, { deadline, drainTimeoutMs: config.drainTimeoutMs, log });
	const result: LoadResult = {
		config,
		rates: [],
		ratesFrom: "",
		targets: targets.map(t => ({ name: t.name, startupMs: t.startupMs, processes: t.processes.map(p => p.account) })),
		compare: compare && { ref: compare.ref, commit: compare.commit, target: compare.target },
		steps: [],
		warmups: [],
		skipped: []
	};

	for (const target of targets) {
		result.warmups.push(await runStep(target, { kind: "warm-up", connections: 16, amount: config.warmup }, context));
	}

	// A step that would not end (load, then some drain) before the deadline is skipped, not started.
	const fits = (spec: StepSpec) => Date.now() + ((spec.seconds ?? 0) + 10) * 1000 < deadline;
	const run = async (target: LoadTarget, spec: StepSpec) => {
		if (!fits(spec)) {
			result.skipped.push(`${target.name} ${spec.kind} ${spec.rate ?? spec.connections}: no time left (BENCH_TIMEOUT_S)`);
			log(`load: skipped ${target.name} ${spec.kind}: no time left`);
			return;
		}
		result.steps.push(await runStep(target, spec, context));
	};

	for (let repeat = 1; repeat <= config.repeats; repeat++) {
		// Alternate which target goes first, so that drift on the machine hits them alike.
		const order = repeat % 2 === 1 ? targets : [...targets].reverse();
		for (const target of order) {
			await run(target, { kind: "concurrency", connections: config.concurrency, seconds: config.seconds, repeat });
		}
	}

	if (config.rates.length > 0) {
		result.rates = config.rates;
		result.ratesFrom = "BENCH_LOAD_RATES";
	} else {
		const peaks = result.steps.filter(s => s.target === "product" && s.kind === "concurrency").map(sustained);
		const peak = median(peaks);
		if (!Number.isFinite(peak) || peak <= 0) throw new Error("load: the product finished no orders in the fixed-concurrency step");
		result.rates = DEFAULT_RATE_SHARES.map(share => Math.max(1, Math.round(share * peak)));
		result.ratesFrom = `${DEFAULT_RATE_SHARES.map(s => `${s * 100} %`).join(", ")} of ${peak.toFixed(1)} orders/s, what the product sustained at c=${config.concurrency}`;
	}
	for (const [i, rate] of result.rates.entries()) {
		const order = i % 2 === 0 ? targets : [...targets].reverse();
		for (const target of order) await run(target, { kind: "rate", connections: config.rateConnections, seconds: config.seconds, rate });
	}
	return result;
}
