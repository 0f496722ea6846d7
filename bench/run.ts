/**
 * `npm run bench`: throughput and latency of the order pipeline, in scenarios measured in the same
 * run so their ratios survive a noisy machine:
 *
 * - load:     the product (the processes of `cluster`) against the hand-written baseline
 *             (bench/baseline), driven from a child process at a fixed concurrency (autocannon), then
 *             at fixed rates (the generator's own even pacer, bench/paced-client.ts); CPU per
 *             process from /proc (bench/load-scenario.ts); with BENCH_COMPARE_REF also the product
 *             built from that commit (bench/compare.ts);
 * - cluster:  two processes (`api,orders` and `processor`) over a fresh RabbitMQ vhost, each service
 *             on a fresh PostgreSQL database;
 * - embedded: one process, no broker, embedded PGlite in a temp dir (one connection per database);
 * - soak:     the product alone at a fixed rate for minutes, its memory sampled every 5 s: does RSS
 *             stay flat (bench/soak-scenario.ts)? Not in the default: it takes ten minutes.
 *
 * Everything it creates (processes, databases, vhosts, temp dirs) is removed at the end, also on
 * failure, Ctrl-C, or when BENCH_TIMEOUT_S runs out. Progress goes to stderr, the tables to stdout,
 * everything measured to bench/results/<time>.json. With BENCH_TRACING=1 the nodes trace
 * (OpenTelemetry) and export their spans to a throwaway OTLP receiver in this process
 * (bench/otlp-sink.ts). See docs/benchmarks.md.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { waitReady } from "../test/support/cluster";
import { startNode } from "../test/support/processes";
import { freePort, uniqueSuffix } from "../test/support/services";
import { Cleanups } from "./cleanups";
import { prepareCompareCheckout, type CompareCheckout } from "./compare";
import { benchProcess } from "./infra";
import { startOtlpSink, type OtlpSinkStats } from "./otlp-sink";
import { apiWatcher, databaseWatcher } from "./load";
import { COMMON_ENV, startProductCluster } from "./product";
import { STAGES, measure, type MeasureOptions, type ScenarioResult, type Target } from "./scenario";
import { fmt, summarize, table } from "./stats";
import { runLoad, type LoadConfig, type LoadResult } from "./load-scenario";
import { loadReport, summarizeSteps, writeResults } from "./load-report";
import { runSoak, SOAK_MARGIN_S, type SoakConfig, type SoakResult } from "./soak-scenario";
import { soakReport } from "./soak-report";

const SCENARIOS = ["load", "cluster", "embedded", "soak"] as const;
type Scenario = (typeof SCENARIOS)[number];
/**
 * `cluster` is left out of the default: `load` starts the same two processes and measures them
 * harder, and with it the default run would outgrow five minutes. `embedded` stays: nothing else
 * measures the one-process deployment. `soak` runs only when asked for: it takes ten minutes.
 */
const DEFAULT_SCENARIOS: Scenario[] = ["load", "embedded"];

/** A comma list of positive numbers (BENCH_LOAD_RATES); empty when unset. */
function positiveNumbers(name: string): number[] {
	const raw = process.env[name]?.trim();
	if (!raw) return [];
	const values = raw.split(",").map(v => Number(v.trim()));
	if (values.some(v => !Number.isFinite(v) || v <= 0)) throw new Error(`${name}='${raw}' is not valid: expected a comma list of numbers > 0.`);
	return values;
}

function positiveInteger(name: string, fallback: number, min = 1): number {
	const raw = process.env[name]?.trim();
	if (!raw) return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < min) throw new Error(`${name}='${raw}' is not valid: expected an integer >= ${min}.`);
	return value;
}

interface BenchConfig {
	scenarios: Scenario[];
	/** Burst size per scenario. */
	orders: Record<"cluster" | "embedded", number>;
	load: LoadConfig;
	soak: SoakConfig;
	concurrency: number;
	rounds: number;
	warmup: number;
	sequential: number;
	/** BENCH_TIMEOUT_S: the budget of every scenario but the soak, which brings its own (soakBudgetSeconds). */
	timeoutSeconds: number;
	/** BENCH_TRACING: the nodes export their spans to a throwaway OTLP receiver. */
	tracing: boolean;
	/** BENCH_COMPARE_REF: a commit whose product `load` measures as a third target. */
	compareRef?: string;
}

function readConfig(): BenchConfig {
	const scenarios = (process.env.BENCH_SCENARIOS ?? DEFAULT_SCENARIOS.join(","))
		.split(",")
		.map(s => s.trim())
		.filter(Boolean);
	for (const s of scenarios) {
		if (!SCENARIOS.includes(s as Scenario)) {
			throw new Error(`BENCH_SCENARIOS: unknown scenario '${s}' (known: ${SCENARIOS.join(", ")}).`);
		}
	}
	const compareRef = process.env.BENCH_COMPARE_REF?.trim() || undefined;
	if (compareRef && !scenarios.includes("load")) {
		throw new Error(`BENCH_COMPARE_REF='${compareRef}' needs the load scenario, and BENCH_SCENARIOS='${scenarios.join(",")}' leaves it out.`);
	}
	return {
		scenarios: scenarios as Scenario[],
		orders: {
			cluster: positiveInteger("BENCH_ORDERS", 500),
			embedded: positiveInteger("BENCH_EMBEDDED_ORDERS", 200)
		},
		load: {
			concurrency: positiveInteger("BENCH_LOAD_CONCURRENCY", 64),
			seconds: positiveInteger("BENCH_LOAD_SECONDS", 15),
			rates: positiveNumbers("BENCH_LOAD_RATES").map(Math.round),
			repeats: positiveInteger("BENCH_LOAD_REPEATS", 3),
			warmup: positiveInteger("BENCH_LOAD_WARMUP", 200),
			rateConnections: 256,
			bodies: 200,
			drainTimeoutMs: 60_000
		},
		soak: {
			rate: positiveInteger("BENCH_SOAK_RATE", 350),
			seconds: positiveInteger("BENCH_SOAK_SECONDS", 600),
			warmup: positiveInteger("BENCH_LOAD_WARMUP", 200),
			connections: 256,
			bodies: 200,
			drainTimeoutMs: 60_000,
			sampleEveryMs: 5000
		},
		concurrency: positiveInteger("BENCH_CONCURRENCY", 16),
		rounds: positiveInteger("BENCH_ROUNDS", 5),
		warmup: positiveInteger("BENCH_WARMUP", 50, 0),
		sequential: positiveInteger("BENCH_SEQUENTIAL", 30, 0),
		timeoutSeconds: positiveInteger("BENCH_TIMEOUT_S", 600),
		tracing: /^(1|true|yes)$/i.test(process.env.BENCH_TRACING?.trim() ?? ""),
		compareRef
	};
}

const benchStart = performance.now();
const log = (message: string): void => {
	process.stderr.write(`[bench +${((performance.now() - benchStart) / 1000).toFixed(1)} s] ${message}\n`);
};

/** `cluster`: the product as deployed, two processes over RabbitMQ, each service on PostgreSQL. */
async function startCluster(cleanups: Cleanups): Promise<Target> {
	const { baseUrl, processes, ordersDb, processorDb } = await startProductCluster(cleanups);
	const watcher = await databaseWatcher(ordersDb.url, 5);
	cleanups.add("orders database watcher", () => watcher.close());
	const processorClient = new Client({ connectionString: processorDb.url });
	await processorClient.connect();
	cleanups.add("processor database client", () => processorClient.end());
	return {
		scenario: "cluster",
		baseUrl,
		processes,
		watcher,
		watcherNote: "orders database polled with pg every 5 ms",
		async processorTimes(orderIds) {
			const { rows } = await processorClient.query<{ order_id: string; created_at: Date; updated_at: Date }>(
				"SELECT order_id, created_at, updated_at FROM processing_records WHERE order_id = ANY($1::uuid[])",
				[orderIds]
			);
			return new Map(rows.map(r => [r.order_id, { received: r.created_at.getTime(), processed: r.updated_at.getTime() }]));
		}
	};
}

async function startEmbedded(cleanups: Cleanups): Promise<Target> {
	const dataDir = mkdtempSync(join(tmpdir(), "order-pipeline-bench-"));
	cleanups.add(`temp dir ${dataDir}`, async () => rmSync(dataDir, { recursive: true, force: true }));
	const port = await freePort();
	const node = benchProcess(options =>
		startNode("api,orders,processor", { ...COMMON_ENV, PORT: String(port), DATA_DIR: dataDir, NODEID: `bench-embedded-${uniqueSuffix()}` }, options)
	);
	cleanups.add("process embedded", () => node.shutdown());
	const baseUrl = `http://127.0.0.1:${port}`;
	await waitReady(baseUrl, [node], 90_000);
	return {
		scenario: "embedded",
		baseUrl,
		processes: [node],
		watcher: apiWatcher(baseUrl, 10),
		watcherNote: "pending count polled over the API every 10 ms"
	};
}

function printReport(config: BenchConfig, results: ScenarioResult[], loadBefore: number[], spans: OtlpSinkStats | undefined): void {
	const out: string[] = [];
	const cpu = cpus();
	const load = (l: number[]) => l.map(v => v.toFixed(2)).join(" ");
	out.push(
		`order-pipeline bench — ${new Date().toISOString()} — node ${process.version} — ${cpu.length} × ${cpu[0]?.model ?? "?"}`,
		`load average (1/5/15 min) at start ${load(loadBefore)}, at end ${load(loadavg())} (at start: other work on the machine)`,
		`rounds ${results.map(r => `${r.scenario} ${r.roundsRun}`).join(", ")} (of ${config.rounds}), ` +
			`warm-up ${config.warmup}, one-at-a-time ${config.sequential}/round, ` +
			`burst ${results.map(r => `${r.scenario} ${r.orders}`).join(", ")} at concurrency ${config.concurrency}`,
		spans
			? `tracing on (BENCH_TRACING): ${spans.spans} spans in ${spans.requests} OTLP/HTTP export requests, ${fmt(spans.bytes / 1024 / 1024)} MiB of JSON, all scenarios`
			: "tracing off",
		""
	);

	const latencyRows: string[][] = [];
	for (const r of results) {
		const rows: Array<[string, number[][]]> = [
			["POST → 201, c=1", r.postSequential],
			[`POST → 201, c=${r.concurrency} (burst)`, r.postBurst],
			["POST → completed, c=1", r.e2eSequential],
			["  same, as seen by poller", r.e2eSequentialSeen],
			[`POST → completed, burst c=${r.concurrency}`, r.e2eBurst],
			["  same, as seen by poller", r.e2eBurstSeen]
		];
		for (const [label, rounds] of rows) {
			const s = summarize(rounds);
			if (s.n === 0) continue;
			latencyRows.push([r.scenario, label, String(s.n), fmt(s.median), fmt(s.p95), `${fmt(s.roundMin)}–${fmt(s.roundMax)}`]);
		}
	}
	out.push("Latency, ms (median and p95 over the samples of all rounds; last column: lowest–highest round median)");
	out.push(table(["scenario", "measure", "n", "median", "p95", "round medians"], latencyRows), "");

	const stageRows: string[][] = [];
	for (const r of results) {
		for (const [stage, label] of STAGES) {
			const seq = summarize(r.stagesSequential[stage]);
			const burst = summarize(r.stagesBurst[stage]);
			if (seq.n + burst.n === 0) continue;
			stageRows.push([r.scenario, label, fmt(seq.median), fmt(seq.p95), fmt(burst.median), fmt(burst.p95)]);
		}
	}
	if (stageRows.length > 0) {
		out.push("Where the time goes, ms (from the timestamps in both databases; only where the bench can read them)");
		out.push(table(["scenario", "hop", "c=1 median", "c=1 p95", "burst median", "burst p95"], stageRows), "");
	}

	out.push("Throughput per burst (first POST → last order completed), one value per round; other columns: medians over rounds");
	out.push(
		table(
			[
				"scenario",
				"burst",
				"completed/s median",
				"min–max",
				"accepted/s",
				"to processor/s while posting",
				"after last 201",
				"drain after last 201, ms",
				"machine CPU %"
			],
			results.map(r => {
				const t = summarize([r.throughput]);
				return [
					r.scenario,
					`${r.orders} @ c=${r.concurrency}`,
					fmt(t.median),
					`${fmt(Math.min(...r.throughput))}–${fmt(Math.max(...r.throughput))}`,
					fmt(summarize([r.ingestRate]).median),
					fmt(summarize([r.toProcessorWhilePosting]).median),
					fmt(summarize([r.toProcessorAfter.filter(Number.isFinite)]).median),
					fmt(summarize([r.drainMs]).median),
					fmt(r.machineCpuPercent)
				];
			})
		),
		""
	);

	out.push("Processes (RSS before the first burst / after the last, peak = VmHWM; CPU during the bursts, % of one core)");
	out.push(
		table(
			["scenario", "process", "RSS before MiB", "RSS after MiB", "peak MiB", "CPU %", "CPU ms/order", "warn+ log lines", "start ms"],
			results.flatMap(r =>
				r.processes.map(p => [
					r.scenario,
					p.name,
					fmt(p.rssBeforeMiB),
					fmt(p.rssAfterMiB),
					fmt(p.peakMiB),
					fmt(p.cpuPercent),
					fmt(p.cpuMsPerOrder),
					String(p.warnings),
					fmt(r.startupMs)
				])
			)
		),
		""
	);

	const byName = new Map(results.map(r => [r.scenario, r]));
	const cluster = byName.get("cluster");
	const embedded = byName.get("embedded");
	const med = (rounds: number[][]) => summarize(rounds).median;
	const ratioRows: string[][] = [];
	for (const r of results) {
		ratioRows.push([`${r.scenario}: POST c=${r.concurrency} / POST c=1`, fmt(med(r.postBurst) / med(r.postSequential))]);
		ratioRows.push([`${r.scenario}: completed burst / completed c=1`, fmt(med(r.e2eBurst) / med(r.e2eSequential))]);
	}
	if (cluster && embedded) {
		ratioRows.push(["embedded / cluster: POST c=1", fmt(med(embedded.postSequential) / med(cluster.postSequential))]);
		ratioRows.push([`embedded / cluster: POST c=${config.concurrency}`, fmt(med(embedded.postBurst) / med(cluster.postBurst))]);
		ratioRows.push(["embedded / cluster: completed c=1", fmt(med(embedded.e2eSequential) / med(cluster.e2eSequential))]);
		ratioRows.push(["embedded / cluster: completed, burst", fmt(med(embedded.e2eBurst) / med(cluster.e2eBurst))]);
		ratioRows.push(["cluster / embedded: completed/s", fmt(med([cluster.throughput]) / med([embedded.throughput]))]);
	}
	out.push("Ratios of medians, same run");
	out.push(table(["ratio", "value"], ratioRows), "");

	for (const r of results) {
		out.push(`${r.scenario}: completion detected by ${r.watcherNote}; orders not completed: ${r.notCompleted}`);
		for (const p of r.processes) {
			for (const [message, count] of p.warningKinds.slice(0, 3)) out.push(`  ${p.name} logged ${count} × ${message}`);
		}
	}
	process.stdout.write(out.join("\n") + "\n");
}

/** The commit the bench ran on (with `+dirty` when the tree has changes), for the results file. */
function currentCommit(): string {
	try {
		const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
		const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim();
		return dirty ? `${commit}+dirty` : commit;
	} catch {
		return "unknown";
	}
}

async function main(): Promise<number> {
	const config = readConfig();
	const startedAt = Date.now();
	const loadBefore = loadavg();
	const cleanups = new Cleanups(log);

	const emergency = async (why: string, code: number) => {
		log(`${why}: cleaning up and stopping.`);
		cleanups.stopping = true;
		const force = setTimeout(() => process.exit(code), 30_000);
		await cleanups.runDownTo(0);
		// A step still under way (a process being started) may register its undo a moment later.
		await new Promise(resolve => setTimeout(resolve, 500));
		await cleanups.runDownTo(0);
		clearTimeout(force);
		process.exit(code);
	};
	process.once("SIGINT", () => void emergency("interrupted", 130));
	process.once("SIGTERM", () => void emergency("terminated", 143));

	// Built before the time budget starts: the build is not measured, and it has a timeout of its own.
	let compare: CompareCheckout | undefined;
	if (config.compareRef) {
		try {
			compare = await prepareCompareCheckout(config.compareRef, cleanups, log);
		} catch (err) {
			// Interrupted: the build was stopped on purpose, and the emergency stop exits with its own code.
			if (cleanups.stopping) return new Promise<number>(() => undefined);
			await cleanups.runDownTo(0);
			throw err;
		}
	}
	// The soak's length is its own setting: BENCH_TIMEOUT_S stays the budget of the other scenarios,
	// and the soak adds BENCH_SOAK_SECONDS plus a margin for its start, warm-up and drain.
	const soakBudgetMs = config.scenarios.includes("soak") ? (config.soak.seconds + SOAK_MARGIN_S) * 1000 : 0;
	const budgetMs = config.timeoutSeconds * 1000 + soakBudgetMs;
	const deadline = Date.now() + budgetMs;
	const watchdog = setTimeout(
		() => void emergency(`the time budget (BENCH_TIMEOUT_S ${config.timeoutSeconds} s${soakBudgetMs ? ` + soak ${soakBudgetMs / 1000} s` : ""}) exceeded by 20 s`, 2),
		budgetMs + 20_000
	);

	// Every node of every scenario exports to the same sink; its default batch delay (5 s) applies.
	const sink = config.tracing ? await startOtlpSink() : undefined;
	if (sink) {
		cleanups.add("OTLP sink", () => sink.close());
		COMMON_ENV.OTEL_EXPORTER_OTLP_ENDPOINT = sink.endpoint;
		log(`tracing on: spans go to ${sink.endpoint}/v1/traces`);
	}

	const results: ScenarioResult[] = [];
	let load: LoadResult | undefined;
	let soak: SoakResult | undefined;
	let failed = false;
	for (const [index, scenario] of config.scenarios.entries()) {
		if (cleanups.stopping) break;
		if (Date.now() >= deadline) {
			failed = true;
			log(`${scenario}: skipped, no time left (BENCH_TIMEOUT_S)`);
			continue;
		}
		const mark = cleanups.mark;
		// Each scenario may use its share of the time left, but for the soak's budget while it is ahead;
		// a round that would not fit is not started.
		const ahead = config.scenarios.slice(index);
		const reserved = ahead.includes("soak") ? soakBudgetMs : 0;
		const softDeadline = Date.now() + (deadline - reserved - Date.now()) / Math.max(1, ahead.filter(s => s !== "soak").length);
		try {
			if (scenario === "soak") {
				soak = await runSoak(config.soak, cleanups, Math.min(deadline, Date.now() + soakBudgetMs), log);
				if (soak.step.errors > 0 || soak.flat === false) failed = true;
				continue;
			}
			if (scenario === "load") {
				// The load scenario has a fixed plan of steps; it skips those that would not end before the deadline.
				load = await runLoad(config.load, cleanups, deadline, log, compare);
				if (load.skipped.length > 0 || load.steps.some(s => s.errors > 0)) failed = true;
				continue;
			}
			log(`${scenario}: starting`);
			const t = performance.now();
			const target = scenario === "embedded" ? await startEmbedded(cleanups) : await startCluster(cleanups);
			const startupMs = performance.now() - t;
			log(`${scenario}: ready in ${startupMs.toFixed(0)} ms`);
			const options: MeasureOptions = {
				orders: config.orders[scenario],
				concurrency: config.concurrency,
				rounds: config.rounds,
				warmup: config.warmup,
				sequential: config.sequential,
				deadline,
				softDeadline,
				log
			};
			const result = await measure(target, options, startupMs);
			results.push(result);
			if (result.notCompleted > 0) failed = true;
		} catch (err) {
			failed = true;
			log(`${scenario} failed: ${(err as Error).stack ?? err}`);
		} finally {
			log(`${scenario}: cleaning up`);
			await cleanups.runDownTo(mark);
		}
	}
	clearTimeout(watchdog);
	if (results.length > 0) printReport(config, results, loadBefore, sink?.stats());
	const summaries = load ? summarizeSteps(load.steps, load.compare?.target) : [];
	if (load) {
		const cpu = cpus();
		const average = (l: number[]) => l.map(v => v.toFixed(2)).join(" ");
		process.stdout.write(
			`\norder-pipeline load bench — ${new Date(startedAt).toISOString()} — node ${process.version} — ${cpu.length} × ${cpu[0]?.model ?? "?"} — ` +
				`load average (1/5/15 min) at start ${average(loadBefore)}, at end ${average(loadavg())}\n${loadReport(load, summaries)}`
		);
	}
	if (soak) process.stdout.write(`\norder-pipeline soak — ${new Date(startedAt).toISOString()} — node ${process.version} — load average at end ${loadavg().map(v => v.toFixed(2)).join(" ")}\n${soakReport(soak)}`);
	if (results.length > 0 || load || soak) {
		const document = {
			startedAt: new Date(startedAt).toISOString(),
			commit: currentCommit(),
			node: process.version,
			machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverageAtStart: loadBefore, loadAverageAtEnd: loadavg() },
			scenarios: config.scenarios,
			load: load ? { ...load, summaries } : undefined,
			soak,
			others: results
		};
		// A file name without colons: 2026-11-30T18-05-09Z.
		const stamp = document.startedAt.replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
		log(`wrote ${writeResults(stamp, document)}`);
	}
	await cleanups.runDownTo(0);
	log(`done in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
	return failed ? 1 : 0;
}

main().then(
	code => process.exit(code),
	err => {
		log(`failed: ${(err as Error).message ?? err}`);
		process.exit(1);
	}
);
