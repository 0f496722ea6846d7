/**
 * The `load` scenario's chart, hand-written SVG (no dependency): against the offered load (orders/s),
 * on the left the orders finished per second, on the right the create latency p50 and p99 (log
 * scale), one colour per target (product@<ref> of BENCH_COMPARE_REF the third). The fixed-rate steps are joined by lines; the fixed-concurrency
 * step, which has no offered rate, is a hollow marker at the rate it reached; when that is far
 * beyond the offered rates it sits on the right edge with its rate written next to it, so that the
 * fixed-rate steps keep the width of the chart.
 */
import type { LoadResult } from "./load-scenario";
import type { Figures, StepSummary } from "./load-report";

const WIDTH = 960;
const HEIGHT = 460;
const PANEL = { top: 60, bottom: 360, width: 380 };
const LEFTS = [70, 550];
const COLOURS: Record<string, string> = { product: "#1f5fa8", baseline: "#d9731a" };
/** Any other target: product@<ref>, the product before a change. */
const OTHER_COLOUR = "#2a9d4b";
const colourOf = (target: string) => COLOURS[target] ?? OTHER_COLOUR;

interface Point {
	x: number;
	y: number;
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** 1, 2, 5 × 10^n steps, about `count` of them up to `max`. */
export function niceTicks(max: number, count = 5): number[] {
	const raw = max / count;
	const power = 10 ** Math.floor(Math.log10(raw));
	const step = [1, 2, 5, 10].map(m => m * power).find(s => s >= raw) ?? power * 10;
	return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
}

interface Axis {
	toX(v: number): number;
	toY(v: number): number;
}

function panel(left: number, title: string, xMax: number, yTicks: number[], yLabel: (v: number) => string, toYUnit: (v: number) => number): { svg: string[]; axis: Axis } {
	const right = left + PANEL.width;
	const yMin = toYUnit(yTicks[0]);
	const yMax = toYUnit(yTicks[yTicks.length - 1]);
	const axis: Axis = {
		toX: v => left + (v / xMax) * PANEL.width,
		toY: v => PANEL.bottom - ((toYUnit(v) - yMin) / (yMax - yMin)) * (PANEL.bottom - PANEL.top)
	};
	const svg = [`<text x="${left}" y="${PANEL.top - 14}" class="title">${escape(title)}</text>`];
	for (const t of yTicks) {
		const y = axis.toY(t).toFixed(1);
		svg.push(`<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" class="grid"/>`);
		svg.push(`<text x="${left - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${yLabel(t)}</text>`);
	}
	for (const t of niceTicks(xMax)) {
		const x = axis.toX(t).toFixed(1);
		svg.push(`<line x1="${x}" x2="${x}" y1="${PANEL.bottom}" y2="${PANEL.bottom + 4}" class="axis"/>`);
		svg.push(`<text x="${x}" y="${PANEL.bottom + 16}" class="tick" text-anchor="middle">${t}</text>`);
	}
	svg.push(`<line x1="${left}" x2="${right}" y1="${PANEL.bottom}" y2="${PANEL.bottom}" class="axis"/>`);
	svg.push(`<line x1="${left}" x2="${left}" y1="${PANEL.top}" y2="${PANEL.bottom}" class="axis"/>`);
	svg.push(`<text x="${left + PANEL.width / 2}" y="${PANEL.bottom + 34}" class="label" text-anchor="middle">offered load, orders/s</text>`);
	return { svg, axis };
}

const polyline = (points: Point[], colour: string, dashed = false) =>
	points.length > 1
		? `<polyline points="${points.map(p => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ")}" fill="none" stroke="${colour}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ""}/>`
		: "";
const dot = (p: Point, colour: string, hollow = false) =>
	`<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="4" fill="${hollow ? "white" : colour}" stroke="${colour}" stroke-width="2"/>`;

export function loadChart(result: LoadResult, summaries: StepSummary[], when: string): string {
	const rateSteps = summaries.filter(s => s.offeredRate !== undefined).sort((a, b) => a.offeredRate! - b.offeredRate!);
	const peakSteps = summaries.filter(s => s.offeredRate === undefined);
	const all = summaries.flatMap(s => Object.values(s.byTarget).filter((f): f is Figures => f !== undefined));
	const finite = (values: number[]) => values.filter(Number.isFinite);
	const peakRates = finite(peakSteps.flatMap(s => Object.values(s.byTarget).map(f => f?.achievedRate ?? NaN)));
	const xMax = rateSteps.length > 0 ? Math.max(...rateSteps.map(s => s.offeredRate!)) * 1.4 : Math.max(1, ...peakRates) * 1.1;
	// The same scale on both axes of the left panel: the diagonal (finished = offered) runs corner to corner.
	const throughputTicks = niceTicks(xMax);
	const tickStep = throughputTicks[1] - throughputTicks[0];
	while (throughputTicks[throughputTicks.length - 1] < xMax) throughputTicks.push(throughputTicks[throughputTicks.length - 1] + tickStep);
	const yMaxThroughput = throughputTicks[throughputTicks.length - 1];
	const latencies = finite(all.flatMap(f => [f.createP50, f.createP99])).filter(v => v > 0);
	const lowPower = Math.floor(Math.log10(Math.min(1, ...latencies)));
	const highPower = Math.ceil(Math.log10(Math.max(10, ...latencies)));
	const latencyTicks = Array.from({ length: highPower - lowPower + 1 }, (_, i) => 10 ** (lowPower + i));

	const left = panel(LEFTS[0], "Orders finished per second (load window)", xMax, throughputTicks, String, v => v);
	const right = panel(LEFTS[1], "Create latency, ms (log scale)", xMax, latencyTicks, v => String(v), v => Math.log10(Math.max(v, latencyTicks[0])));
	const body = [...left.svg, ...right.svg];

	// Where finished = offered: a target on this line keeps up.
	const diagonalEnd = Math.min(xMax, throughputTicks[throughputTicks.length - 1]);
	body.push(polyline([{ x: left.axis.toX(0), y: left.axis.toY(0) }, { x: left.axis.toX(diagonalEnd), y: left.axis.toY(diagonalEnd) }], "#999", true));

	const targets = result.targets.map(t => t.name);
	// The product last, on top where the markers of several targets meet.
	for (const target of [...targets].reverse()) {
		const colour = colourOf(target);
		const rated = rateSteps.map(s => ({ rate: s.offeredRate!, f: s.byTarget[target] })).filter(r => r.f !== undefined);
		const at = (axis: Axis, x: number, y: number): Point => ({ x: axis.toX(x), y: axis.toY(y) });
		const finished = rated.filter(r => Number.isFinite(r.f!.finishedPerSecond)).map(r => at(left.axis, r.rate, r.f!.finishedPerSecond));
		const p50 = rated.filter(r => r.f!.createP50 > 0).map(r => at(right.axis, r.rate, r.f!.createP50));
		const p99 = rated.filter(r => r.f!.createP99 > 0).map(r => at(right.axis, r.rate, r.f!.createP99));
		body.push(polyline(finished, colour), ...finished.map(p => dot(p, colour)));
		body.push(polyline(p50, colour), ...p50.map(p => dot(p, colour)));
		body.push(polyline(p99, colour, true), ...p99.map(p => dot(p, colour)));
		for (const s of peakSteps) {
			const f = s.byTarget[target];
			if (!f || !Number.isFinite(f.achievedRate)) continue;
			const beyond = f.achievedRate > xMax;
			const x = Math.min(f.achievedRate, xMax);
			const points: Array<[Point, string]> = [
				[
					at(left.axis, x, Math.min(f.finishedPerSecond, yMaxThroughput)),
					beyond || f.finishedPerSecond > yMaxThroughput
						? `${s.label}: ${Math.round(f.achievedRate)}/s in, ${Math.round(f.finishedPerSecond)}/s done`
						: s.label
				],
				// One label for the pair: on p99, the upper marker.
				[at(right.axis, x, f.createP50), ""],
				[at(right.axis, x, f.createP99), beyond ? `${s.label} at ${Math.round(f.achievedRate)}/s` : s.label]
			];
			for (const [p, label] of points.filter(([p]) => Number.isFinite(p.y))) {
				const anchor = beyond ? ` text-anchor="end"` : "";
				body.push(dot(p, colour, true));
				if (label) body.push(`<text x="${(p.x + (beyond ? -7 : 7)).toFixed(1)}" y="${(p.y - 7).toFixed(1)}" class="note" fill="${colour}"${anchor}>${escape(label)}</text>`);
			}
		}
	}

	// Room for each name (about 7 px a character at 12 px) after its 30 px of line.
	const legend: string[] = [];
	let legendX = LEFTS[0];
	for (const target of targets) {
		legend.push(
			`<g transform="translate(${legendX},${HEIGHT - 38})"><line x1="0" x2="24" y1="0" y2="0" stroke="${colourOf(target)}" stroke-width="3"/>` +
				`<text x="30" y="0" dominant-baseline="middle" class="label">${escape(target)}</text></g>`
		);
		legendX += 30 + 7 * target.length + 24;
	}
	legend.push(
		`<text x="${legendX + 6}" y="${HEIGHT - 38}" dominant-baseline="middle" class="note">filled: fixed rate; hollow: fixed concurrency, at the rate it reached.</text>`,
		`<text x="${LEFTS[0]}" y="${HEIGHT - 16}" dominant-baseline="middle" class="note">Left, grey dashes: finished = offered. Right: p50 solid, p99 dashed (hollow: p99 the upper marker).</text>`
	);

	return [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif">`,
		"<style>.title{font-size:14px;font-weight:bold}.tick{font-size:11px;fill:#444}.label{font-size:12px}.note{font-size:11px}.grid{stroke:#e4e4e4}.axis{stroke:#444}</style>",
		`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
		`<text x="${LEFTS[0]}" y="22" class="title">${escape(`order-pipeline load bench, ${when}: ${targets.join(", ")}, ${result.config.seconds} s a step`)}</text>`,
		...body.filter(Boolean),
		...legend,
		"</svg>",
		""
	].join("\n");
}
