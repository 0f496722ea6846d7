/**
 * The `load` scenario's report: tables on stdout (per step, product against baseline and their
 * ratio; with BENCH_COMPARE_REF also product@<ref>, its ratio to the baseline and product ÷
 * product@<ref>), and everything measured as JSON under bench/results/ (not tracked), named after
 * the run's start time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult } from "./load-scenario";
import type { StepResult } from "./load-steps";
import { fmt, median, table } from "./stats";

/** bench/results in the sources, seen from dist/bench. */
export const RESULTS_DIR = join(__dirname, "..", "..", "bench", "results");

/** One value per target and step label: the median over repeats. */
export interface StepSummary {
	label: string;
	offeredRate?: number;
	byTarget: Record<string, Figures | undefined>;
	/** `product / baseline`, `<other> / baseline` and `product ÷ <other>`, of the figures in RATIO_FIGURES. */
	ratios: Record<string, Partial<Record<RatioFigure, number>>>;
}

/** The figures compared between targets: throughput, tail latencies and cost. */
export const RATIO_FIGURES = ["finishedPerSecond", "createP99", "sagaP99", "systemCpuMsPerOrder"] as const;
export type RatioFigure = (typeof RATIO_FIGURES)[number];

/** The name of the ratio of target `a` to target `b`: `÷` between two builds of the product. */
export const ratioName = (a: string, b: string) => (b === "baseline" ? `${a} / ${b}` : `${a} ÷ ${b}`);

export interface Figures {
	repeats: number;
	created: number;
	errors: number;
	achievedRate: number;
	finishedPerSecond: number;
	finishedPerSecondToDrain: number;
	createP50: number;
	createP95: number;
	createP99: number;
	createP99Steady: number;
	loaderLoopDelayP99: number;
	sagaP50: number;
	sagaP95: number;
	sagaP99: number;
	systemCpuMsPerOrder: number;
	loaderCpuMsPerOrder: number;
	outboxMaxOrders: number;
	outboxMaxProcessor: number;
}

/**
 * The medians of every target per step, and their ratios: each target to the baseline, and the
 * product to `compareTarget` (product@<ref>) when there is one.
 */
export function summarizeSteps(steps: StepResult[], compareTarget?: string): StepSummary[] {
	const labels = [...new Set(steps.map(s => s.label))];
	const targets = [...new Set(steps.map(s => s.target))];
	const pairs: Array<[string, string]> = targets.filter(t => t !== "baseline").map(t => [t, "baseline"]);
	if (compareTarget) pairs.push(["product", compareTarget]);
	return labels.map(label => {
		const ofLabel = steps.filter(s => s.label === label);
		const byTarget: StepSummary["byTarget"] = {};
		for (const name of targets) {
			const runs = ofLabel.filter(s => s.target === name);
			if (runs.length === 0) continue;
			const m = (pick: (s: StepResult) => number) => median(runs.map(pick));
			byTarget[name] = {
				repeats: runs.length,
				created: m(s => s.created),
				errors: runs.reduce((sum, s) => sum + s.errors, 0),
				achievedRate: m(s => s.achievedRate),
				finishedPerSecond: m(s => s.finishedPerSecond),
				finishedPerSecondToDrain: m(s => s.finishedPerSecondToDrain),
				createP50: m(s => s.createLatencyMs.p50),
				createP95: m(s => s.createLatencyMs.p95),
				createP99: m(s => s.createLatencyMs.p99),
				createP99Steady: m(s => s.createLatencySteadyMs?.p99 ?? NaN),
				loaderLoopDelayP99: m(s => s.loaderStalls?.loopDelayP99Ms ?? NaN),
				sagaP50: m(s => s.sagaLatencyMs.p50),
				sagaP95: m(s => s.sagaLatencyMs.p95),
				sagaP99: m(s => s.sagaLatencyMs.p99),
				systemCpuMsPerOrder: m(s => s.systemCpuMsPerOrder),
				loaderCpuMsPerOrder: m(s => s.loaderSendingCpuMsPerOrder),
				outboxMaxOrders: m(s => s.outboxMax.orders),
				outboxMaxProcessor: m(s => s.outboxMax.processor)
			};
		}
		const ratios: StepSummary["ratios"] = {};
		for (const [a, b] of pairs) {
			const fa = byTarget[a];
			const fb = byTarget[b];
			if (!fa || !fb) continue;
			ratios[ratioName(a, b)] = Object.fromEntries(RATIO_FIGURES.map(figure => [figure, fa[figure] / fb[figure]]));
		}
		return { label, offeredRate: ofLabel[0].offeredRate, byTarget, ratios };
	});
}

/** The plain-text report of the `load` scenario. */
export function loadReport(result: LoadResult, summaries: StepSummary[]): string {
	const out: string[] = [];
	const { config } = result;
	const compare = result.compare?.target;
	out.push(
		`load: product against baseline${compare ? ` and ${compare} (BENCH_COMPARE_REF=${result.compare!.ref}, ${result.compare!.commit})` : ""}, ` +
			`${config.seconds} s a step, fixed concurrency c=${config.concurrency} ` +
			`(${config.repeats} repeat${config.repeats > 1 ? "s, medians" : ""}), fixed rates ${result.rates.join(", ")} orders/s (${result.ratesFrom}; evenly spaced)`,
		`targets: ${result.targets.map(t => `${t.name} (${t.processes.join(", ")}; ready in ${fmt(t.startupMs / 1000)} s)`).join("; ")}`,
		""
	);

	// Each column: a target's figure, or a ratio of two targets (filled on the measures that have one).
	type Column = { header: string; target: string } | { header: string; ratio: string };
	const columns: Column[] = [
		{ header: "product", target: "product" },
		{ header: "baseline", target: "baseline" },
		{ header: ratioName("product", "baseline"), ratio: ratioName("product", "baseline") }
	];
	if (compare) {
		columns.push(
			{ header: compare, target: compare },
			{ header: ratioName(compare, "baseline"), ratio: ratioName(compare, "baseline") },
			{ header: ratioName("product", compare), ratio: ratioName("product", compare) }
		);
	}
	const whole = (f: Figures | undefined, pick: (f: Figures) => number) => (f ? String(Math.round(pick(f))) : "-");
	const measures: Array<[string, (f: Figures) => number, RatioFigure | undefined]> = [
		["finished/s (load window)", f => f.finishedPerSecond, "finishedPerSecond"],
		["finished/s (to drained)", f => f.finishedPerSecondToDrain, undefined],
		["created/s (201s)", f => f.achievedRate, undefined],
		["create p50 ms", f => f.createP50, undefined],
		["create p95 ms", f => f.createP95, undefined],
		["create p99 ms", f => f.createP99, "createP99"],
		["create p99 ms, sent after the 1st s", f => f.createP99Steady, undefined],
		["saga p50 ms", f => f.sagaP50, undefined],
		["saga p99 ms", f => f.sagaP99, "sagaP99"],
		["CPU ms/order (all but load gen.)", f => f.systemCpuMsPerOrder, "systemCpuMsPerOrder"],
		["load generator CPU ms/order, sending", f => f.loaderCpuMsPerOrder, undefined],
		["load generator event-loop delay p99 ms", f => f.loaderLoopDelayP99, undefined],
		["max unsent outbox orders/processor", f => f.outboxMaxOrders, undefined],
		["errors (non-201)", f => f.errors, undefined]
	];
	const figureCell = (name: string, f: Figures | undefined, pick: (f: Figures) => number) => {
		if (!f) return "-";
		if (name.startsWith("errors")) return whole(f, pick);
		if (name.startsWith("max unsent")) return `${whole(f, g => g.outboxMaxOrders)} / ${whole(f, g => g.outboxMaxProcessor)}`;
		return fmt(pick(f));
	};
	const rows: string[][] = [];
	for (const s of summaries) {
		for (const [name, pick, ratioFigure] of measures) {
			const cells = columns.map(c => {
				if ("target" in c) return figureCell(name, s.byTarget[c.target], pick);
				if (!ratioFigure) return "";
				const value = s.ratios[c.ratio]?.[ratioFigure];
				return value === undefined ? "-" : fmt(value);
			});
			rows.push([name === measures[0][0] ? s.label : "", name, ...cells]);
		}
		rows.push(["", "", ...columns.map(() => "")]);
	}
	rows.pop();
	out.push(`Per step (medians over repeats); a / b: target a's figure divided by target b's${compare ? `; product ÷ ${compare} below 1 on latency and CPU, or above 1 on finished/s, means the current product does better` : ""}`);
	out.push(table(["step", "measure", ...columns.map(c => c.header)], rows), "");

	const cpuRows: string[][] = [];
	for (const step of result.steps) {
		for (const [account, c] of Object.entries(step.cpu).sort(([a], [b]) => a.localeCompare(b))) {
			cpuRows.push([`${step.target} ${step.label}${config.repeats > 1 && step.kind === "concurrency" ? ` #${step.repeat}` : ""}`, account, fmt(c.msPerOrder), fmt(c.percentOfCore), fmt(step.peakMemoryMiB[account] ?? NaN)]);
		}
	}
	out.push("CPU per process, from the start of each step to its drain (ms per finished order; % of one core), peak memory (VmHWM, MiB)");
	out.push(table(["step", "process", "CPU ms/order", "CPU %", "peak MiB"], cpuRows), "");
	out.push("Unsent outbox rows, orders / processor database, every 2 s from the start of each step to its drain (all samples in the JSON)");
	for (const step of result.steps) {
		// The first sample at or after each 2 s mark (samples are late when the database is busy).
		const series: string[] = [];
		for (const x of step.samples) if (x.t >= series.length * 2000) series.push(`${x.outboxOrders}/${x.outboxProcessor}`);
		out.push(`  ${step.target} ${step.label}: ${series.join(" ")}`);
	}
	out.push("");
	for (const line of result.skipped) out.push(`skipped: ${line}`);
	for (const step of result.steps) {
		if (step.errors > 0) out.push(`${step.target} ${step.label}: ${step.errors} errors, first: ${step.firstError}`);
		if (step.offeredRate && step.achievedRate < 0.95 * step.offeredRate) {
			out.push(`${step.target} ${step.label}: the generator reached only ${fmt(step.achievedRate)} of ${step.offeredRate} orders/s offered`);
		}
	}
	return out.join("\n") + "\n";
}

/** Writes `<stamp>.json`, everything the run measured, under bench/results; returns its path. */
export function writeResults(stamp: string, document: Record<string, unknown>): string {
	mkdirSync(RESULTS_DIR, { recursive: true });
	const json = join(RESULTS_DIR, `${stamp}.json`);
	writeFileSync(json, JSON.stringify(document, null, "\t") + "\n");
	return json;
}
