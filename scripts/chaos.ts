/**
 * Chaos run: a three-process cluster (api, orders, processor) on fresh databases and a fresh
 * RabbitMQ vhost, a paced load of orders with idempotent retrying clients, and, meanwhile, processes
 * killed (-9 and SIGTERM) and broker connections closed. At the end a ledger compares what clients
 * were told with what the databases hold: nothing lost, nothing done twice, every outcome right.
 *
 *   npm run chaos
 *
 * | variable           | meaning                                        | default                                     |
 * |--------------------|------------------------------------------------|---------------------------------------------|
 * | CHAOS_ORDERS       | orders to create                               | 300                                         |
 * | CHAOS_SEED         | seed of the order contents and chaos decisions | 42                                          |
 * | CHAOS_CONCURRENCY  | clients at once                                | 8                                           |
 * | CHAOS_LOAD_SECONDS | the orders are spread over this time           | 100                                         |
 * | CHAOS_DATABASE_URL | PostgreSQL admin URL (may create databases)    | postgres://postgres@127.0.0.1:5432/postgres |
 * | CHAOS_AMQP_URL     | RabbitMQ URL (its vhost is replaced)           | amqp://guest:guest@127.0.0.1:5672           |
 * | CHAOS_LOG_LEVEL    | LOG_LEVEL of the product's processes           | warn                                        |
 * | CHAOS_MAX_SECONDS  | hard limit of the whole run                    | 420                                         |
 * | CHAOS_ORDER_TIMEOUT_MS | ORDER_TIMEOUT_MS of the cluster: short, so that orders the chaos delays expire | 2500               |
 * | QUEUE_TYPE         | the cluster's QUEUE_TYPE (classic or quorum)   | the product's: classic                      |
 *
 * TEST_DATABASE_URL and TEST_AMQP_URL (the tests' variables), when set, take precedence (test/support/services.ts
 * of the test kit, whose cluster makes the databases and the vhost; the vhost needs rabbitmqctl on this machine).
 *
 * Exit code 0 when nothing is lost, duplicated, mismatched or still pending; 1 otherwise (or when
 * the run itself fails); 2 when the hard limit stopped it; 130 on SIGINT/SIGTERM. Databases, vhost
 * and child processes are removed in every case. Nothing is written to disk.
 */
import { createCluster, ROLES, type Cluster, type Role } from "./chaos/cluster";
import { closeVhostConnections, peekQueue } from "./chaos/infra";
import { computeLedger, describeOrder } from "./chaos/ledger";
import { planOrders, runLoad, type OrderResult } from "./chaos/load";
import { envInt, log, seededRandom, type Random } from "./chaos/util";
import { ProductCluster } from "../test/support/cluster";
import { queryDatabase, sleep, uniqueSuffix, waitFor } from "../test/support/services";

type Action = "kill9-processor" | "kill9-orders" | "sigterm-processor" | "close-connections" | "kill9-api";

const ACTIONS: Array<{ value: Action; weight: number }> = [
	{ value: "kill9-processor", weight: 3 },
	{ value: "kill9-orders", weight: 3 },
	{ value: "sigterm-processor", weight: 2 },
	{ value: "close-connections", weight: 3 },
	{ value: "kill9-api", weight: 1 }
];
const MAX_API_KILLS = 2;

interface ChaosState {
	stopping: boolean;
	counts: Record<string, number>;
	notes: string[];
}

/** Waits `ms`, or less when the chaos is told to stop. */
async function pause(state: ChaosState, ms: number): Promise<void> {
	const until = Date.now() + ms;
	while (!state.stopping && Date.now() < until) await sleep(Math.min(200, until - Date.now()));
}

async function killAndRestart(cluster: Cluster, role: Role, signal: NodeJS.Signals, downMs: number, state: ChaosState): Promise<void> {
	const victim = cluster.current(role);
	const began = Date.now();
	const exit = await cluster.stop(role, signal);
	const took = Date.now() - began;
	log(`   ${victim?.nodeID ?? role} stopped (${exit ? `code ${exit.code}, signal ${exit.signal}` : "was not running"}) after ${took} ms`);
	if (signal === "SIGTERM" && exit && exit.code !== 0) {
		state.notes.push(`${victim?.nodeID} exited with code ${exit.code} (signal ${exit.signal}) after SIGTERM`);
	}
	await sleep(downMs);
	const next = cluster.start(role);
	log(`   ${role} restarted as ${next.nodeID} after ${downMs} ms down`);
}

async function chaosLoop(cluster: Cluster, vhost: string, random: Random, state: ChaosState): Promise<void> {
	let apiKills = 0;
	while (!state.stopping) {
		// The draws happen in the same order every round, so one seed takes the same decisions.
		const waitMs = random.int(3000, 5000);
		let action = random.weighted(ACTIONS);
		const downMs = random.int(1000, 2000);
		await pause(state, waitMs);
		if (state.stopping) break;
		if (action === "kill9-api" && apiKills >= MAX_API_KILLS) action = "close-connections";
		state.counts[action] = (state.counts[action] ?? 0) + 1;
		log(`CHAOS ${action}`);
		try {
			switch (action) {
				case "kill9-processor":
					await killAndRestart(cluster, "processor", "SIGKILL", downMs, state);
					break;
				case "kill9-orders":
					await killAndRestart(cluster, "orders", "SIGKILL", downMs, state);
					break;
				case "kill9-api":
					apiKills++;
					await killAndRestart(cluster, "api", "SIGKILL", downMs, state);
					break;
				case "sigterm-processor":
					await killAndRestart(cluster, "processor", "SIGTERM", downMs, state);
					break;
				case "close-connections": {
					const closed = await closeVhostConnections(vhost, "chaos");
					log(`   closed ${closed} connection(s) of vhost ${vhost}`);
					break;
				}
			}
		} catch (err) {
			log(`   chaos action ${action} failed: ${(err as Error).message}`);
			state.notes.push(`chaos action ${action} failed: ${(err as Error).message}`);
		}
	}
}

async function pendingCount(ordersDbUrl: string): Promise<Record<string, number>> {
	const rows = await queryDatabase<{ status: string; n: number }>(ordersDbUrl, "SELECT status, count(*)::int AS n FROM orders GROUP BY status");
	return Object.fromEntries(rows.map(r => [r.status, r.n]));
}

function printTails(cluster: Cluster): void {
	for (const role of ROLES) {
		process.stdout.write(`\n---------- last lines of ${role} (all incarnations) ----------\n`);
		process.stdout.write(cluster.tail(role).join("\n") + "\n");
	}
}

async function main(): Promise<number> {
	const began = Date.now();
	const seed = envInt("CHAOS_SEED", 42);
	const orderCount = envInt("CHAOS_ORDERS", 300);
	const concurrency = envInt("CHAOS_CONCURRENCY", 8);
	const spreadMs = envInt("CHAOS_LOAD_SECONDS", 100) * 1000;
	const maxSeconds = envInt("CHAOS_MAX_SECONDS", 420);
	const orderTimeoutMs = envInt("CHAOS_ORDER_TIMEOUT_MS", 2500);
	const logLevel = process.env.CHAOS_LOG_LEVEL ?? "warn";
	const runId = uniqueSuffix();
	const product = new ProductCluster({
		label: "chaos",
		ownVhost: true,
		env: {
			RETRY_BASE_DELAY_MS: "200",
			ORDER_TIMEOUT_MS: String(orderTimeoutMs),
			LOG_LEVEL: logLevel,
			// The product's processes get only the variables given here; this one is the product's own.
			...(process.env.QUEUE_TYPE ? { QUEUE_TYPE: process.env.QUEUE_TYPE } : {})
		}
	});

	let cluster: Cluster | undefined;
	let cleaned = false;

	const cleanup = async () => {
		if (cleaned) return;
		cleaned = true;
		log("cleanup: stopping processes, dropping databases, deleting the vhost");
		if (cluster) await cluster.stopAll().catch(err => log(`   stopping processes failed: ${(err as Error).message}`));
		await product.tearDown().catch(err => log(`   removing the databases and the vhost failed: ${(err as Error).message}`));
	};
	// Last resorts: children never outlive the script, whatever stops it.
	process.on("exit", () => cluster?.killAllNow());
	const onSignal = (signal: NodeJS.Signals) => {
		log(`received ${signal}: cleaning up`);
		cluster?.killAllNow();
		void cleanup().finally(() => process.exit(130));
	};
	process.once("SIGINT", onSignal);
	process.once("SIGTERM", onSignal);
	const watchdog = setTimeout(() => {
		log(`HARD LIMIT: the run exceeded ${maxSeconds} s; stopping`);
		if (cluster) printTails(cluster);
		cluster?.killAllNow();
		void cleanup().finally(() => process.exit(2));
	}, maxSeconds * 1000);
	watchdog.unref();

	const state: ChaosState = { stopping: false, counts: {}, notes: [] };
	try {
		log(`chaos run ${runId}: seed ${seed}, ${orderCount} orders over ~${spreadMs / 1000} s, concurrency ${concurrency}`);
		await product.setUp();
		const { ordersDb, processorDb, vhost, namespace, baseUrl } = product;
		log(`databases ${ordersDb.name}, ${processorDb.name}; vhost ${vhost.vhost}; namespace ${namespace}`);

		cluster = createCluster(product);
		for (const role of ROLES) log(`started ${cluster.start(role).nodeID}`);
		const liveCluster = cluster;
		// No processes to watch: a process that dies is the supervisor's to restart, not a failed start.
		await product.waitReady([], 90_000);
		log(`cluster ready on ${baseUrl}`);
		liveCluster.setSupervised(true);

		// --- load and chaos, together -----------------------------------------------------------
		const plan = planOrders(orderCount, seededRandom(seed), runId);
		const chaos = chaosLoop(liveCluster, vhost.vhost, seededRandom(seed ^ 0x5eed5eed), state);
		let results: OrderResult[];
		try {
			results = await runLoad(baseUrl, plan, { concurrency, spreadMs, budgetMs: 30_000 });
		} finally {
			state.stopping = true;
			await chaos;
		}
		log(`load done: ${results.filter(r => r.outcome === "created").length}/${plan.length} orders got a 201; chaos stopped`);

		// --- settle ----------------------------------------------------------------------------
		const restarted = liveCluster.ensureRunning();
		if (restarted.length > 0) log(`restarted ${restarted.join(", ")} (not running at the end of the chaos)`);
		const ready = await product.waitReady([], 60_000).then(
			() => true,
			err => {
				log(`!! ${(err as Error).message}`);
				state.notes.push("the cluster was not ready within 60 s after the chaos");
				return false;
			}
		);
		if (ready) log("cluster ready again");
		let statuses: Record<string, number> = {};
		const settled = await waitFor(
			"no order to be pending or cancelling",
			async () => {
				statuses = await pendingCount(ordersDb.url);
				return !statuses.pending && !statuses.cancelling;
			},
			90_000,
			1000
		).then(
			() => true,
			() => false
		);
		log(`orders by status: ${JSON.stringify(statuses)}${settled ? "" : " (still pending after 90 s)"}`);

		// --- ledger ----------------------------------------------------------------------------
		const ledger = await computeLedger({
			ordersDbUrl: ordersDb.url,
			processorDbUrl: processorDb.url,
			vhostUrl: vhost.url,
			namespace,
			results,
			plan,
			chaosCounts: state.counts,
			durationMs: Date.now() - began,
			unexpectedExits: liveCluster.unexpectedExits.map(e => `${e.at} ${e.nodeID}: code ${e.exit.code}, signal ${e.exit.signal}`),
			seed
		});
		for (const note of state.notes) ledger.text = ledger.text.replace(/\n {2}RESULT/, `\n  note: ${note}\n  RESULT`);
		process.stdout.write(`\n${ledger.text}\n`);

		for (const id of ledger.unacknowledgedIds.slice(0, 5)) {
			const logLines = liveCluster.grep(id);
			if (logLines.length === 0) continue;
			process.stdout.write(`\nlog lines naming ${id} (an order the client got no 201 for):\n`);
			for (const line of logLines.slice(0, 20)) process.stdout.write(`    ${line}\n`);
		}
		if (!ledger.ok) {
			process.stdout.write("\n---------- problem orders ----------\n");
			for (const id of ledger.problemOrderIds.slice(0, 15)) {
				process.stdout.write(`order ${id}\n`);
				for (const line of await describeOrder(ordersDb.url, processorDb.url, id)) process.stdout.write(`${line}\n`);
				const logLines = liveCluster.grep(id);
				process.stdout.write(`  log lines naming it (${logLines.length}):\n`);
				for (const line of logLines.slice(0, 20)) process.stdout.write(`    ${line}\n`);
			}
			for (const [queue, n] of Object.entries(ledger.deadLetters)) {
				if (n > 0) {
					process.stdout.write(`\ndead letters in ${queue} (first 5):\n`);
					for (const line of await peekQueue(vhost.url, queue, 5)) process.stdout.write(`  ${line}\n`);
				}
			}
			printTails(liveCluster);
		}
		return ledger.ok ? 0 : 1;
	} catch (err) {
		state.stopping = true;
		log(`chaos run failed: ${(err as Error).stack ?? err}`);
		if (cluster) printTails(cluster);
		return 1;
	} finally {
		await cleanup();
		log(`done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
	}
}

main().then(
	code => process.exit(code),
	err => {
		process.stderr.write(`${(err as Error).stack ?? err}\n`);
		process.exit(1);
	}
);
