/** Order statistics and the plain-text tables the bench prints. */

/** The p-th percentile (0..100) with linear interpolation between closest ranks; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
	if (values.length === 0) return NaN;
	const sorted = [...values].sort((a, b) => a - b);
	const rank = (p / 100) * (sorted.length - 1);
	const low = Math.floor(rank);
	const high = Math.ceil(rank);
	return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export interface Summary {
	/** Samples over all rounds. */
	n: number;
	median: number;
	p95: number;
	/** Lowest and highest of the per-round medians: how much the rounds disagree. */
	roundMin: number;
	roundMax: number;
}

/** Pools the samples of every round for median and p95, and keeps the spread of the round medians. */
export function summarize(rounds: readonly (readonly number[])[]): Summary {
	const all = rounds.flat();
	const roundMedians = rounds.filter(r => r.length > 0).map(r => median(r));
	return {
		n: all.length,
		median: median(all),
		p95: percentile(all, 95),
		roundMin: roundMedians.length ? Math.min(...roundMedians) : NaN,
		roundMax: roundMedians.length ? Math.max(...roundMedians) : NaN
	};
}

/** A number with a precision that suits its size. */
export function fmt(value: number): string {
	if (!Number.isFinite(value)) return "-";
	const abs = Math.abs(value);
	if (abs >= 100) return value.toFixed(0);
	if (abs >= 10) return value.toFixed(1);
	return value.toFixed(2);
}

/** Left-aligned first column, right-aligned others, two spaces between columns. */
export function table(header: string[], rows: string[][]): string {
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? "").length)));
	const line = (cells: string[]) =>
		cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
	return [line(header), line(widths.map(w => "-".repeat(w))), ...rows.map(line)].join("\n");
}
