/**
 * A quick check of the baseline on its own (not part of `npm run bench`): fresh databases and
 * vhost, SMOKE_ORDERS orders (500) posted SMOKE_CONCURRENCY (32) at a time, then the counts that
 * must hold once every order is settled. With `--kill-processor` the processor is killed with
 * SIGKILL halfway through the posts and started again: nothing may be lost or done twice.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/baseline/smoke.js [--kill-processor]
 */
import { performance } from "node:perf_hooks";
import { createOwnVhost, createTestDatabase, freePort, queryDatabase, waitFor } from "../../test/support/services";
import { orderBody, runConcurrent } from "../load";
import { spawnBaselineProcess, startBaseline, type BaselineProcess } from "./index";

const ORDERS = Number(process.env.SMOKE_ORDERS ?? 500);
const CONCURRENCY = Number(process.env.SMOKE_CONCURRENCY ?? 32);
const KILL_PROCESSOR = process.argv.includes("--kill-processor");

async function count(url: string, sql: string): Promise<number> {
	const [row] = await queryDatabase<{ n: string }>(url, sql);
	return Number(row.n);
}

function check(what: string, actual: number, expected: number): boolean {
	const ok = actual === expected;
	console.log(`${ok ? "ok  " : "FAIL"} ${what}: ${actual}${ok ? "" : ` (expected ${expected})`}`);
	return ok;
}

async function main(): Promise<void> {
	const ordersDb = await createTestDatabase("baseline_orders");
	const processorDb = await createTestDatabase("baseline_processor");
	const vhost = createOwnVhost();
	const port = await freePort();
	const log = (m: string) => (/fail|error|exit/i.test(m) ? console.log(m) : undefined);
	let replacement: BaselineProcess | undefined;
	let handle: Awaited<ReturnType<typeof startBaseline>> | undefined;
	let ok = true;
	try {
		const t0 = performance.now();
		handle = await startBaseline({ ordersDatabaseUrl: ordersDb.url, processorDatabaseUrl: processorDb.url, amqpUrl: vhost.url, port, log });
		console.log(`started in ${(performance.now() - t0).toFixed(0)} ms: ${handle.processes.map(p => `${p.name} ${p.pid}`).join(", ")}`);

		const start = performance.now();
		let expectedUnits = 0;
		await runConcurrent(ORDERS, CONCURRENCY, async i => {
			if (KILL_PROCESSOR && i === Math.floor(ORDERS / 2)) {
				process.kill(handle!.processes[1].pid, "SIGKILL");
				console.log(`killed baseline-processor with SIGKILL after ${i} posts; starting it again`);
				replacement = spawnBaselineProcess("baseline-processor", "processor", { BASELINE_AMQP_URL: vhost.url, BASELINE_DATABASE_URL: processorDb.url }, log);
				void replacement.ready.then(() => console.log("baseline-processor is back"));
			}
			const body = orderBody("smoke", i);
			for (const item of JSON.parse(body).items as Array<{ quantity: number }>) expectedUnits += item.quantity;
			const res = await fetch(`${handle!.baseUrl}/api/orders`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
			if (res.status !== 201) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
			await res.text();
		});
		const posted = performance.now();
		await waitFor("every order to be settled", async () => (await count(ordersDb.url, "SELECT count(*) AS n FROM orders WHERE status = 'pending'")) === 0, 120_000, 20);
		const settled = performance.now();
		console.log(`${ORDERS} posts in ${(posted - start).toFixed(0)} ms: ${((ORDERS * 1000) / (posted - start)).toFixed(0)} POST/s`);
		console.log(`${ORDERS} orders settled in ${(settled - start).toFixed(0)} ms: ${((ORDERS * 1000) / (settled - start)).toFixed(0)} orders/s end to end`);

		const bad = await queryDatabase(ordersDb.url, "SELECT 1 FROM orders WHERE status <> 'completed' LIMIT 1");
		if (bad.length) console.log("FAIL some orders did not complete");
		const unsent = "SELECT count(*) AS n FROM outbox_events WHERE sent_at IS NULL";
		await waitFor("both outboxes to be empty", async () => (await count(ordersDb.url, unsent)) + (await count(processorDb.url, unsent)) === 0, 10_000).catch(() => undefined);
		const results = [
			check("completed orders", await count(ordersDb.url, "SELECT count(*) AS n FROM orders WHERE status = 'completed'"), ORDERS),
			check("inbox rows (processed_events)", await count(ordersDb.url, "SELECT count(*) AS n FROM processed_events"), ORDERS),
			check("processing_records completed", await count(processorDb.url, "SELECT count(*) AS n FROM processing_records WHERE status = 'completed'"), ORDERS),
			check("units reserved (stock.reserved)", await count(processorDb.url, "SELECT sum(reserved) AS n FROM stock"), expectedUnits),
			check("units in stock_reservations", await count(processorDb.url, "SELECT sum(quantity) AS n FROM stock_reservations"), expectedUnits),
			check("SKUs whose available + reserved is not 1,000,000", await count(processorDb.url, "SELECT count(*) AS n FROM stock WHERE available + reserved <> 1000000"), 0),
			check("unsent outbox rows (orders)", await count(ordersDb.url, unsent), 0),
			check("unsent outbox rows (processor)", await count(processorDb.url, unsent), 0)
		];
		ok = results.every(Boolean) && bad.length === 0;
	} finally {
		const t = performance.now();
		await handle?.stop();
		await replacement?.stop();
		console.log(`stopped in ${(performance.now() - t).toFixed(0)} ms`);
		await ordersDb.drop();
		await processorDb.drop();
		await vhost.remove();
	}
	console.log(ok ? "smoke: all checks passed" : "smoke: FAILED");
	process.exitCode = ok ? 0 : 1;
}

main().catch((err: Error) => {
	console.error(err);
	process.exit(1);
});
