/**
 * The workload: orders posted over HTTP, and the ways the bench learns that they finished.
 *
 * Timing. A POST's latency is measured on the client (send → 201 read) with the monotonic clock. The
 * end-to-end latency of an order is `updatedAt` (set by the orders service when it moves the order to
 * `completed`) minus the wall-clock time the bench sent the POST: all processes run on one machine
 * and share its clock, so this is exact to the millisecond whatever the polling interval. The
 * watchers below only tell the bench when a batch is done (and, for the cluster, when the bench
 * itself saw each order finish — a cross-check that includes one poll: 5 ms plus the query).
 */
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { sleep, apiFetch } from "../test/support/services";

export interface PostedOrder {
	id: string;
	/** Wall-clock ms when the request was sent. */
	sentAt: number;
	/** Send → 201 with the body read, in ms. */
	latencyMs: number;
}

export interface FinishedOrder {
	id: string;
	status: string;
	createdAt: number;
	updatedAt: number;
}

/** One order of one or two items of the demo stock (SKU-0001 … SKU-0100, 1,000,000 units each). */
export function orderBody(customerId: string, i: number): string {
	const sku = (n: number) => `SKU-${String((n % 100) + 1).padStart(4, "0")}`;
	const items = [{ sku: sku(i), quantity: 1, unitPrice: 9.99 }];
	if (i % 2 === 1) items.push({ sku: sku(i + 37), quantity: 2, unitPrice: 4.5 });
	return JSON.stringify({ customerId, items, currency: "EUR" });
}

export async function postOrder(baseUrl: string, customerId: string, i: number): Promise<PostedOrder> {
	const body = orderBody(customerId, i);
	const sentAt = Date.now();
	const start = performance.now();
	const res = await apiFetch(`${baseUrl}/api/orders`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body
	});
	const text = await res.text();
	const latencyMs = performance.now() - start;
	if (res.status !== 201) throw new Error(`POST /api/orders answered ${res.status}: ${text.slice(0, 300)}`);
	return { id: (JSON.parse(text) as { id: string }).id, sentAt, latencyMs };
}

/** Runs `task(0) … task(count − 1)` with at most `concurrency` at a time; results in index order. */
export async function runConcurrent<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
	const results = new Array<T>(count);
	let next = 0;
	const worker = async () => {
		while (next < count) {
			const i = next++;
			results[i] = await task(i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
	return results;
}

/** Learns when the orders of a batch have left `pending`. */
export interface CompletionWatcher {
	/** Starts watching a batch (orders of one customer id) before its first POST. */
	begin(customerId: string): void;
	/** An order of the batch got its 201. */
	add(id: string): void;
	/** Resolves once every added order has left `pending`; the map holds when the bench saw each (if it can tell). */
	done(timeoutMs: number): Promise<Map<string, number>>;
	close(): Promise<void>;
}

/**
 * Polls the orders database directly every `intervalMs` for the batch's ids that are still pending
 * (cluster: a real PostgreSQL, where one more connection costs the product nothing it would notice).
 * It polls from `begin()` on, while the batch is still being posted, so the time it sees an order
 * finish is at most one poll (interval + query) late. One query per poll, for every id still out:
 * the set shrinks as orders finish.
 */
export async function databaseWatcher(databaseUrl: string, intervalMs = 5): Promise<CompletionWatcher> {
	const client = new Client({ connectionString: databaseUrl });
	await client.connect();
	let batch = { outstanding: new Set<string>(), seen: new Map<string, number>() };
	let failure: Error | undefined;
	let running = true;
	const loop = (async () => {
		while (running) {
			const { outstanding, seen } = batch;
			if (outstanding.size > 0) {
				try {
					const { rows } = await client.query<{ id: string }>(
						"SELECT id FROM orders WHERE id = ANY($1::uuid[]) AND status <> 'pending'",
						[[...outstanding]]
					);
					const now = Date.now();
					for (const { id } of rows) {
						outstanding.delete(id);
						seen.set(id, now);
					}
				} catch (err) {
					failure = err as Error;
					return;
				}
			}
			await sleep(intervalMs);
		}
	})();
	return {
		begin() {
			batch = { outstanding: new Set(), seen: new Map() };
		},
		add(id) {
			batch.outstanding.add(id);
		},
		async done(timeoutMs) {
			const deadline = Date.now() + timeoutMs;
			const { outstanding, seen } = batch;
			for (;;) {
				if (failure) throw failure;
				if (outstanding.size === 0) return seen;
				if (Date.now() > deadline) throw new Error(`${outstanding.size} orders still pending after ${timeoutMs} ms`);
				await sleep(1);
			}
		},
		async close() {
			running = false;
			await loop;
			await client.end();
		}
	};
}

/**
 * Polls the API for the batch's count of pending orders (embedded: PGlite serves one connection,
 * which the product holds, so the bench cannot query it directly). Each poll is one more request on
 * that connection: this watcher slows the product a little, it does not change the timing.
 */
export function apiWatcher(baseUrl: string, intervalMs: number): CompletionWatcher {
	let customer = "";
	return {
		begin(customerId) {
			customer = customerId;
		},
		add() {},
		async done(timeoutMs) {
			const deadline = Date.now() + timeoutMs;
			const url = `${baseUrl}/api/orders?customerId=${encodeURIComponent(customer)}&status=pending&pageSize=1`;
			for (;;) {
				const res = await apiFetch(url);
				const page = (await res.json()) as { total: number };
				if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
				if (page.total === 0) return new Map();
				if (Date.now() > deadline) throw new Error(`${page.total} orders still pending after ${timeoutMs} ms`);
				await sleep(intervalMs);
			}
		},
		async close() {}
	};
}

/** Every order of one customer id, through the API (pages of 100). */
export async function fetchOrders(baseUrl: string, customerId: string): Promise<Map<string, FinishedOrder>> {
	const orders = new Map<string, FinishedOrder>();
	for (let page = 1; ; page++) {
		const url = `${baseUrl}/api/orders?customerId=${encodeURIComponent(customerId)}&page=${page}&pageSize=100`;
		const res = await apiFetch(url);
		if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
		const body = (await res.json()) as {
			rows: Array<{ id: string; status: string; createdAt: string; updatedAt: string }>;
			totalPages: number;
		};
		for (const r of body.rows) {
			orders.set(r.id, { id: r.id, status: r.status, createdAt: Date.parse(r.createdAt), updatedAt: Date.parse(r.updatedAt) });
		}
		if (page >= body.totalPages) return orders;
	}
}
