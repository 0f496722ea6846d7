/**
 * The `soak` scenario's report: a few tables on stdout, and a chart of RSS over time per process
 * (hand-written SVG, like the load chart) written next to the run's JSON as `<stamp>-soak.svg`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { niceTicks } from "./load-chart";
import { RESULTS_DIR } from "./load-report";
import { FLAT_RULE, type SoakResult } from "./soak-scenario";
import { fmt, table } from "./stats";

export function soakReport(result: SoakResult): string {
	const { config, step } = result;
	const out: string[] = [];
	const loadSeconds = (step.loadEndedAt - step.loadStartedAt) / 1000;
	out.push(
		`soak: the product alone at ${config.rate} orders/s offered for ${config.seconds} s (after ${config.warmup} warm-up orders), ` +
			`sampled every ${config.sampleEveryMs / 1000} s; ready in ${fmt(result.startupMs / 1000)} s; drained ${fmt((step.drainedAt - step.loadEndedAt) / 1000)} s after the load`,
		""
	);
	out.push(
		table(
			["measure", "value"],
			[
				["created/s (201s)", fmt(step.achievedRate)],
				["finished/s (load window)", fmt(step.finishedPerSecond)],
				["finished/s (to drained)", fmt(step.finishedPerSecondToDrain)],
				["create p50 / p99 ms", `${fmt(step.createLatencyMs.p50)} / ${fmt(step.createLatencyMs.p99)}`],
				["saga p50 / p99 ms", `${fmt(step.sagaLatencyMs.p50)} / ${fmt(step.sagaLatencyMs.p99)}`],
				["201s / orders finished", `${step.created} / ${step.finished}`],
				["CPU ms/order (all but load gen.)", fmt(step.systemCpuMsPerOrder)],
				["max unsent outbox orders / processor", `${step.outboxMax.orders} / ${step.outboxMax.processor}`],
				["errors (non-201)", String(step.errors)]
			]
		),
		""
	);

	const ref = `RSS at ${fmt(result.referenceSeconds)} s`;
	out.push(
		`Memory of the Node processes, MiB (VmRSS; peak = VmHWM at the end); slope: least squares over the load from ${fmt(result.slopeFromSeconds)} s to its end (${fmt(loadSeconds)} s)`
	);
	out.push(
		table(
			["process", ref, "RSS at end", "RSS max", "peak", "slope MiB/min", "end / ref", "CPU ms/order", "flat"],
			result.processes.map(p => [
				p.account,
				fmt(p.rssAtReferenceMiB),
				fmt(p.rssEndMiB),
				fmt(p.rssMaxMiB),
				fmt(p.peakMiB),
				fmt(p.slopeMiBPerMinute),
				fmt(p.rssEndMiB / p.rssAtReferenceMiB),
				fmt(p.cpuMsPerOrder),
				p.flat ? "yes" : "no"
			])
		),
		""
	);
	const others = Object.entries(step.cpu).filter(([account]) => !account.startsWith("node "));
	out.push(`CPU ms/order of the others: ${others.map(([account, c]) => `${account} ${fmt(c.msPerOrder)}`).join(", ")}`);

	const tables = (rows: SoakResult["rowsAtEnd"]["live"], which: "orders" | "processor") =>
		Object.entries(rows[which]).map(([name, n]) => `${name} ${n}`).join(", ");
	const first = result.samples.find(s => s.t >= 0);
	if (first) out.push(`Live rows (n_live_tup) at the first sample of the load (${fmt(first.t / 1000)} s): orders db ${tables(first.rows, "orders")}; processor db ${tables(first.rows, "processor")}`);
	out.push(`Live rows (n_live_tup) after the drain: orders db ${tables(result.rowsAtEnd.live, "orders")}; processor db ${tables(result.rowsAtEnd.live, "processor")}`);
	out.push(`Rows (count(*)) after the drain: orders db ${tables(result.rowsAtEnd.exact, "orders")}; processor db ${tables(result.rowsAtEnd.exact, "processor")}`);
	out.push("");
	if (loadSeconds < 300) out.push(`a soak under 5 min: the reference is at a fifth of the load, not at 1 min, and the slope is noisy`);
	if (step.offeredRate && step.achievedRate < 0.95 * step.offeredRate) {
		out.push(`the generator reached only ${fmt(step.achievedRate)} of ${step.offeredRate} orders/s offered`);
	}
	if (step.errors > 0) out.push(`${step.errors} errors, first: ${step.firstError}`);
	out.push(`rule: ${result.rule}`);
	out.push(`memory flat: ${result.flat === null ? "unknown (too few samples)" : result.flat ? "yes" : "no"}`);
	return out.join("\n") + "\n";
}

const WIDTH = 960;
const HEIGHT = 420;
const PLOT = { left: 70, right: 930, top: 50, bottom: 340 };
const COLOURS = ["#1f5fa8", "#d9731a", "#2a9d4b"];

/** RSS over time per process, with the least-squares line of the slope's window dashed over it. */
export function soakChart(result: SoakResult, when: string): string {
	const samples = result.samples;
	const accounts = result.processes.map(p => p.account);
	const tMin = Math.min(0, ...samples.map(s => s.t)) / 60_000;
	const tMax = Math.max(1 / 60, ...samples.map(s => s.t)) / 60_000;
	const values = samples.flatMap(s => accounts.map(a => s.memory[a]?.rssMiB ?? NaN)).filter(Number.isFinite);
	const yTicks = niceTicks(Math.max(1, ...values) * 1.1);
	const yMax = yTicks[yTicks.length - 1] < Math.max(...values) ? Math.max(...values) * 1.1 : yTicks[yTicks.length - 1];
	const toX = (minutes: number) => PLOT.left + ((minutes - tMin) / (tMax - tMin)) * (PLOT.right - PLOT.left);
	const toY = (mib: number) => PLOT.bottom - (mib / yMax) * (PLOT.bottom - PLOT.top);
	const body: string[] = [];
	for (const t of yTicks) {
		const y = toY(t).toFixed(1);
		body.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y}" y2="${y}" class="grid"/>`);
		body.push(`<text x="${PLOT.left - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${t}</text>`);
	}
	for (const t of niceTicks(tMax)) {
		const x = toX(t).toFixed(1);
		body.push(`<line x1="${x}" x2="${x}" y1="${PLOT.bottom}" y2="${PLOT.bottom + 4}" class="axis"/>`);
		// Steps of 0.2 min add up to 0.6000000000000001: rounded to what a tick can mean.
		body.push(`<text x="${x}" y="${PLOT.bottom + 16}" class="tick" text-anchor="middle">${Number(t.toFixed(3))}</text>`);
	}
	body.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}" class="axis"/>`);
	body.push(`<line x1="${PLOT.left}" x2="${PLOT.left}" y1="${PLOT.top}" y2="${PLOT.bottom}" class="axis"/>`);
	body.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 34}" class="label" text-anchor="middle">minutes since the load began (after the end: the drain)</text>`);
	body.push(`<text x="${PLOT.left}" y="${PLOT.top - 10}" class="label">RSS, MiB</text>`);
	// Where the load ended.
	const loadEnd = toX((result.step.loadEndedAt - result.step.loadStartedAt) / 60_000).toFixed(1);
	body.push(`<line x1="${loadEnd}" x2="${loadEnd}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#999" stroke-dasharray="2 3"/>`);

	const legend: string[] = [];
	for (const [i, p] of result.processes.entries()) {
		const colour = COLOURS[i % COLOURS.length];
		const points = samples
			.filter(s => Number.isFinite(s.memory[p.account]?.rssMiB))
			.map(s => `${toX(s.t / 60_000).toFixed(1)},${toY(s.memory[p.account].rssMiB).toFixed(1)}`);
		if (points.length > 1) body.push(`<polyline points="${points.join(" ")}" fill="none" stroke="${colour}" stroke-width="2"/>`);
		// The fitted line over the slope's window, through the mean of its points.
		const window = samples.filter(s => s.t >= result.slopeFromSeconds * 1000 && s.t <= result.step.loadEndedAt - result.step.loadStartedAt);
		if (window.length >= 2 && Number.isFinite(p.slopeMiBPerMinute)) {
			const xs = window.map(s => s.t / 60_000);
			const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
			const my = window.reduce((a, s) => a + s.memory[p.account].rssMiB, 0) / window.length;
			const at = (x: number) => my + p.slopeMiBPerMinute * (x - mx);
			const [x1, x2] = [xs[0], xs[xs.length - 1]];
			body.push(`<line x1="${toX(x1).toFixed(1)}" x2="${toX(x2).toFixed(1)}" y1="${toY(at(x1)).toFixed(1)}" y2="${toY(at(x2)).toFixed(1)}" stroke="${colour}" stroke-width="1" stroke-dasharray="6 4"/>`);
		}
		legend.push(
			`<g transform="translate(${PLOT.left + i * 330},${HEIGHT - 34})"><line x1="0" x2="24" y1="0" y2="0" stroke="${colour}" stroke-width="3"/>` +
				`<text x="30" y="0" dominant-baseline="middle" class="label">${p.account}: ${fmt(p.slopeMiBPerMinute)} MiB/min, flat ${p.flat ? "yes" : "no"}</text></g>`
		);
	}
	legend.push(
		`<text x="${PLOT.left}" y="${HEIGHT - 12}" class="note">Dashed: the least-squares line over the last 80 % of the load; dotted grey: the load's end. Flat: slope &lt; ${FLAT_RULE.maxSlopeMiBPerMinute} MiB/min and end &lt; ${FLAT_RULE.maxGrowth} × RSS at 1 min.</text>`
	);
	return [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif">`,
		"<style>.title{font-size:14px;font-weight:bold}.tick{font-size:11px;fill:#444}.label{font-size:12px}.note{font-size:11px}.grid{stroke:#e4e4e4}.axis{stroke:#444}</style>",
		`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
		`<text x="${PLOT.left}" y="22" class="title">order-pipeline soak, ${when}: ${result.config.rate} orders/s for ${result.config.seconds} s, memory flat: ${result.flat === null ? "unknown" : result.flat ? "yes" : "no"}</text>`,
		...body,
		...legend,
		"</svg>",
		""
	].join("\n");
}

/** Writes `<stamp>-soak.svg` under bench/results; returns its path. */
export function writeSoakChart(stamp: string, result: SoakResult, when: string): string {
	const path = join(RESULTS_DIR, `${stamp}-soak.svg`);
	writeFileSync(path, soakChart(result, when));
	return path;
}
