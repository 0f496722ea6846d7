/**
 * The product as the bench starts it: the kit's cluster (test/support/cluster.ts) with two
 * processes, `api,orders` and `processor`. The `cluster` scenario, the `product` targets of `load`
 * and the soak start it through this one function, so all measure the same thing.
 */
import { ProductCluster } from "../test/support/cluster";
import type { TestDatabase } from "../test/support/services";
import type { Cleanups } from "./cleanups";
import { benchProcess, type BenchProcess } from "./infra";

/** What every product process of the bench runs with, on top of what the kit's startNode sets. */
export const COMMON_ENV: Record<string, string> = { METRICS_PORT: "off", RATE_LIMIT_PER_MINUTE: "0", LOG_LEVEL: "warn" };

/** The product's tuning variables: set in the bench's environment, they reach the product's nodes (to try other values). */
export const TUNING_VARIABLES = ["CONSUMER_PREFETCH", "PROCESSOR_BATCH_SIZE", "CREATE_CONCURRENCY", "CREATE_QUEUE_SIZE"];

/** The tuning variables set in the bench's environment. */
export function tuningEnv(): Record<string, string> {
	return Object.fromEntries(TUNING_VARIABLES.flatMap(name => (process.env[name]?.trim() ? [[name, process.env[name]!.trim()]] : [])));
}

/**
 * A vhost and two databases of the bench's own, removed by `cleanups`. The baseline runs on such a
 * cluster too: only the processes differ.
 */
export async function benchCluster(cleanups: Cleanups, label: string, env: Record<string, string> = {}): Promise<ProductCluster> {
	const cluster = new ProductCluster({ label, ownVhost: true, env });
	await cluster.setUp();
	cleanups.add(`vhost ${cluster.vhost.vhost} and databases ${cluster.ordersDb.name}, ${cluster.processorDb.name}`, () => cluster.tearDown());
	return cluster;
}

export interface RunningProduct {
	baseUrl: string;
	processes: BenchProcess[];
	ordersDb: TestDatabase;
	processorDb: TestDatabase;
}

/**
 * Starts the two product processes on a fresh cluster and waits until they serve. `entry` is the
 * start.js to run: another build's for the `product@<ref>` target of `load`, so that the product of
 * an older commit starts exactly like the current one; by default this checkout's.
 */
export async function startProductCluster(cleanups: Cleanups, label = "bench", entry?: string): Promise<RunningProduct> {
	const cluster = await benchCluster(cleanups, label, {
		...COMMON_ENV,
		...tuningEnv(),
		// For profiling the nodes under load, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (docs/benchmarks.md).
		...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {})
	});
	const front = benchProcess(options => cluster.startNode("api,orders", { SERVICES: "api,orders", NODEID: `bench-front-${cluster.namespace}` }, { ...options, entry }));
	cleanups.add("process api,orders", () => front.shutdown());
	const processor = benchProcess(options =>
		cluster.startNode("processor", { SERVICES: "processor", NODEID: `bench-processor-${cluster.namespace}` }, { ...options, entry })
	);
	cleanups.add("process processor", () => processor.shutdown());
	await cluster.waitReady([front, processor]);
	return { baseUrl: cluster.baseUrl, processes: [front, processor], ordersDb: cluster.ordersDb, processorDb: cluster.processorDb };
}
