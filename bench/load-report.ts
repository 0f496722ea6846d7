/**
 * The `load` scenario's report: tables on stdout (per step, product against baseline and their
 * ratio), and everything measured as JSON plus a chart as SVG under bench/results/, named after the
 * run's start time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadChart } from "./load-chart";
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
}

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
	sagaP50: number;
	sagaP95: number;
	sagaP99: number;
	systemCpuMsPerOrder: number;
	loaderCpuMsPerOrder: number;
	outboxMaxOrders: number;
	outboxMaxProcessor: number;
}

export function summarizeSteps(steps: StepResult[]): StepSummary[] {
	const labels = [...new Set(steps.map(s => s.label))];
	return labels.map(label => {
		const ofLabel = steps.filter(s => s.label === label);
		const byTarget: StepSummary["byTarget"] = {};
		for (const name of ["product", "baseline"]) {
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
				sagaP50: m(s => s.sagaLatencyMs.p50),
				sagaP95: m(s => s.sagaLatencyMs.p95),
				sagaP99: m(s => s.sagaLatencyMs.p99),
				systemCpuMsPerOrder: m(s => s.systemCpuMsPerOrder),
				loaderCpuMsPerOrder: m(s => s.loaderSendingCpuMsPerOrder),
				outboxMaxOrders: m(s => s.outboxMax.orders),
				outboxMaxProcessor: m(s => s.outboxMax.processor)
			};
		}
		return { label, offeredRate: ofLabel[0].offeredRate, byTarget };
	});
}

/** The plain-text report of the `load` scenario. */
export function loadReport(result: LoadResult, summaries: StepSummary[]): string {
	const out: string[] = [];
	const { config } = result;
	out.push(
		`load: product against baseline, ${config.seconds} s a step, fixed concurrency c=${config.concurrency} ` +
			`(${config.repeats} repeat${config.repeats > 1 ? "s, medians" : ""}), fixed rates ${result.rates.join(", ")} orders/s (${result.ratesFrom})`,
		`targets: ${result.targets.map(t => `${t.name} (${t.processes.join(", ")}; ready in ${fmt(t.startupMs / 1000)} s)`).join("; ")}`,
		""
	);

	const ratio = (p: number | undefined, b: number | undefined) => (p !== undefined && b !== undefined ? fmt(p / b) : "-");
	const rows: string[][] = [];
	for (const s of summaries) {
		const p = s.byTarget.product;
		const b = s.byTarget.baseline;
		const cell = (f: Figures | undefined, pick: (f: Figures) => number) => (f ? fmt(pick(f)) : "-");
		const whole = (f: Figures | undefined, pick: (f: Figures) => number) => (f ? String(Math.round(pick(f))) : "-");
		const measures: Array<[string, (f: Figures) => number, boolean]> = [
			["finished/s (load window)", f => f.finishedPerSecond, true],
			["finished/s (to drained)", f => f.finishedPerSecondToDrain, false],
			["created/s (201s)", f => f.achievedRate, false],
			["create p50 ms", f => f.createP50, false],
			["create p95 ms", f => f.createP95, false],
			["create p99 ms", f => f.createP99, true],
			["saga p50 ms", f => f.sagaP50, false],
			["saga p99 ms", f => f.sagaP99, true],
			["CPU ms/order (all but load gen.)", f => f.systemCpuMsPerOrder, true],
			["load generator CPU ms/order, sending", f => f.loaderCpuMsPerOrder, false],
			["max unsent outbox orders/processor", f => f.outboxMaxOrders, false],
			["errors (non-201)", f => f.errors, false]
		];
		for (const [name, pick, withRatio] of measures) {
			let productCell = cell(p, pick);
			let baselineCell = cell(b, pick);
			if (name.startsWith("errors")) {
				productCell = whole(p, pick);
				baselineCell = whole(b, pick);
			} else if (name.startsWith("max unsent")) {
				productCell = p ? `${whole(p, f => f.outboxMaxOrders)} / ${whole(p, f => f.outboxMaxProcessor)}` : "-";
				baselineCell = b ? `${whole(b, f => f.outboxMaxOrders)} / ${whole(b, f => f.outboxMaxProcessor)}` : "-";
			}
			rows.push([
				name === measures[0][0] ? s.label : "",
				name,
				productCell,
				baselineCell,
				withRatio ? ratio(p && pick(p), b && pick(b)) : ""
			]);
		}
		rows.push(["", "", "", "", ""]);
	}
	rows.pop();
	out.push("Per step (medians over repeats); ratio = product / baseline");
	out.push(table(["step", "measure", "product", "baseline", "ratio"], rows), "");

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

/**
 * Writes `<stamp>.json` (everything the run measured) and, when the load scenario ran, `<stamp>.svg`
 * under bench/results; returns their paths.
 */
export function writeResults(stamp: string, document: Record<string, unknown>, load?: { result: LoadResult; summaries: StepSummary[] }): string[] {
	mkdirSync(RESULTS_DIR, { recursive: true });
	const json = join(RESULTS_DIR, `${stamp}.json`);
	writeFileSync(json, JSON.stringify(document, null, "\t") + "\n");
	if (!load) return [json];
	const svg = join(RESULTS_DIR, `${stamp}.svg`);
	writeFileSync(svg, loadChart(load.result, load.summaries, String(document.startedAt ?? stamp)));
	return [json, svg];
}
