/**
 * The product as the bench starts it: two processes (`api,orders` and `processor`) over a fresh
 * RabbitMQ vhost, each service on a fresh PostgreSQL database. The `cluster` scenario and the
 * `product` target of the `load` scenario start it through this one function, so both measure the
 * same thing.
 */
import { LOCAL_CLUSTER_SECRET, apiFetch, createOwnVhost, createTestDatabase, freePort, uniqueSuffix, waitFor, type TestDatabase } from "../scripts/support/local-services";
import type { Cleanups } from "./cleanups";
import { startBenchNode, type BenchProcess } from "./infra";

/** What every product process of the bench runs with, on top of what startNode sets. */
export const COMMON_ENV: Record<string, string> = { METRICS_PORT: "off", RATE_LIMIT_PER_MINUTE: "0", LOG_LEVEL: "warn" };

/** The product's tuning variables: set in the bench's environment, they reach the product's nodes (to try other values). */
export const TUNING_VARIABLES = ["CONSUMER_PREFETCH", "PROCESSOR_BATCH_SIZE", "CREATE_CONCURRENCY", "CREATE_QUEUE_SIZE"];

/** The tuning variables set in the bench's environment. */
export function tuningEnv(): Record<string, string> {
	return Object.fromEntries(TUNING_VARIABLES.flatMap(name => (process.env[name]?.trim() ? [[name, process.env[name]!.trim()]] : [])));
}

export interface ProductCluster {
	baseUrl: string;
	processes: BenchProcess[];
	ordersDb: TestDatabase;
	processorDb: TestDatabase;
}

/** Waits until /api/health/ready answers 200; fails early, with its output, if a process exits. */
export async function waitReady(baseUrl: string, processes: BenchProcess[], timeoutMs: number): Promise<void> {
	let lastAnswer = "";
	await waitFor(
		"the product to be ready",
		async () => {
			const dead = processes.find(p => p.child.exitCode !== null || p.child.signalCode !== null);
			if (dead) throw new Error(`process '${dead.name}' exited during start`);
			// Readiness is the front's own; the stock answer says a processor is there too.
			for (const path of ["/api/health/ready", "/api/admin/stock/SKU-0001"]) {
				const res = await apiFetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(2000) });
				lastAnswer = await res.text();
				if (res.status !== 200) return false;
			}
			return true;
		},
		timeoutMs,
		100
	).catch(err => {
		const outputs = processes.map(p => `--- ${p.name} ---\n${p.output().slice(-3000)}`).join("\n");
		throw new Error(`${(err as Error).message}\nlast answer: ${lastAnswer}\n${outputs}`);
	});
}

/**
 * Starts the two product processes on fresh databases and a fresh vhost, and waits until they serve.
 * `entry` is the start.js to run: another build's for the `product@<ref>` target of `load`, so that
 * the product of an older commit starts exactly like the current one; by default this checkout's.
 */
export async function startProductCluster(cleanups: Cleanups, label = "bench", entry?: string): Promise<ProductCluster> {
	const vhost = createOwnVhost();
	cleanups.add(`vhost ${vhost.vhost}`, vhost.remove);
	const ordersDb = await createTestDatabase(`${label}_orders`);
	cleanups.add(`database ${ordersDb.name}`, ordersDb.drop);
	const processorDb = await createTestDatabase(`${label}_processor`);
	cleanups.add(`database ${processorDb.name}`, processorDb.drop);

	const port = await freePort();
	const common: Record<string, string> = {
		...COMMON_ENV,
		...tuningEnv(),
		TRANSPORTER: vhost.url,
		CLUSTER_SECRET: LOCAL_CLUSTER_SECRET,
		NAMESPACE: `bench${uniqueSuffix()}`,
		ORDERS_DATABASE_URL: ordersDb.url,
		PROCESSOR_DATABASE_URL: processorDb.url,
		// For profiling the nodes under load, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (docs/benchmarks.md).
		...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {})
	};
	const front = startBenchNode(
		"api,orders",
		{ ...common, SERVICES: "api,orders", PORT: String(port), NODEID: `bench-front-${uniqueSuffix()}` },
		entry
	);
	cleanups.add("process api,orders", () => front.shutdown());
	const processor = startBenchNode("processor", { ...common, SERVICES: "processor", NODEID: `bench-processor-${uniqueSuffix()}` }, entry);
	cleanups.add("process processor", () => processor.shutdown());

	const baseUrl = `http://127.0.0.1:${port}`;
	await waitReady(baseUrl, [front, processor], 60_000);
	return { baseUrl, processes: [front, processor], ordersDb, processorDb };
}
