/** The `soak` scenario's report: a few tables on stdout (the samples themselves are in the run's JSON). */
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
