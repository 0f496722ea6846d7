/**
 * The load: N orders over POST /api/orders, a few at a time, each with an Idempotency-Key of its
 * own. A client retries a failed request (network error, 5xx, 429) with the same key and body until
 * it gets 201 or 422, within a time budget per order.
 */
import type { OrderItem } from "../../lib/contracts/events";
import { sleep, apiFetch } from "../../test/support/services";
import { log, type Random } from "./util";

export type { OrderItem };

export interface PlannedOrder {
	index: number;
	key: string;
	body: { customerId: string; items: OrderItem[]; currency: string };
	/** True when an item names a SKU the catalogue does not have: the order must end `failed`. */
	unknownSku: boolean;
	/** Send the request once more after its 201 and check the same order comes back. */
	replayProbe: boolean;
	/** Cancel the order this long after its 201 (about one order in six); unset: never. */
	cancelAfterMs?: number;
}

/** What a cancellation asked for by the client got. */
export interface CancelResult {
	/** The last HTTP status: 200 (cancelled or being cancelled) or 409 (failed or expired: refused). */
	httpStatus?: number;
	/** The order's status in the 200 answer. */
	status?: string;
	attempts: number;
	lastError?: string;
}

export type Outcome = "created" | "rejected" | "gave-up";

export interface OrderResult {
	order: PlannedOrder;
	outcome: Outcome;
	orderId?: string;
	/** Ids answered for this key (201s), the replay probe's included: more than one is a duplicate. */
	idsSeen: string[];
	attempts: number;
	/** Failed attempts by cause: "network", "503", "504", … */
	failures: Record<string, number>;
	lastError?: string;
	httpStatus?: number;
	replayed: boolean;
	elapsedMs: number;
	/** One line per attempt: when it started, what came back, how long it took. */
	trace: string[];
	cancel?: CancelResult;
}

/** The orders of one run, decided by the seed. */
export function planOrders(count: number, random: Random, runId: string): PlannedOrder[] {
	return Array.from({ length: count }, (_, index) => {
		const lines = random.int(1, 3);
		const skus = new Set<string>();
		while (skus.size < lines) skus.add(`SKU-${String(random.int(1, 100)).padStart(4, "0")}`);
		const items: OrderItem[] = [...skus].map(sku => ({
			sku,
			quantity: random.int(1, 3),
			unitPrice: random.int(100, 5000) / 100
		}));
		// Every tenth order (7, 17, 27, …): about 10 %, spread evenly over the run.
		const unknownSku = index % 10 === 7;
		if (unknownSku) {
			// The unknown SKU sits among known ones: a refused order must reserve none of them.
			items.splice(random.int(0, items.length), 0, { sku: `SKU-NOPE-${index}`, quantity: random.int(1, 3), unitPrice: 1 });
		}
		return {
			index,
			key: `chaos-${runId}-${index}`,
			body: { customerId: `chaos-customer-${index % 17}`, items, currency: "EUR" },
			unknownSku,
			replayProbe: random.next() < 0.1,
			cancelAfterMs: random.next() < 1 / 6 ? random.int(0, 3000) : undefined
		};
	});
}

interface Attempt {
	status?: number;
	id?: string;
	replayed?: boolean;
	error?: string;
}

async function postOnce(baseUrl: string, order: PlannedOrder): Promise<Attempt> {
	try {
		const res = await apiFetch(`${baseUrl}/api/orders`, {
			method: "POST",
			headers: { "Content-Type": "application/json", "Idempotency-Key": order.key },
			body: JSON.stringify(order.body),
			signal: AbortSignal.timeout(20_000)
		});
		const text = await res.text();
		if (res.status === 201) {
			const body = JSON.parse(text) as { id?: string };
			return { status: 201, id: body.id, replayed: res.headers.get("idempotent-replayed") === "true" };
		}
		return { status: res.status, error: text.slice(0, 300) };
	} catch (err) {
		const cause = (err as { cause?: { code?: string } }).cause?.code;
		return { error: `${(err as Error).name}: ${(err as Error).message}${cause ? ` (${cause})` : ""}` };
	}
}

const retryable = (a: Attempt) => a.status === undefined || a.status >= 500 || a.status === 429;

async function placeOrder(baseUrl: string, order: PlannedOrder, budgetMs: number): Promise<OrderResult> {
	const began = Date.now();
	const result: OrderResult = { order, outcome: "gave-up", idsSeen: [], attempts: 0, failures: {}, replayed: false, elapsedMs: 0, trace: [] };
	for (let n = 0; ; n++) {
		const sent = Date.now();
		const attempt = await postOnce(baseUrl, order);
		result.attempts++;
		result.trace.push(
			`${new Date(sent).toISOString()} → ${attempt.status ?? attempt.error?.slice(0, 60)}${attempt.replayed ? " (replayed)" : ""} after ${Date.now() - sent} ms`
		);
		result.httpStatus = attempt.status;
		if (attempt.status === 201 && attempt.id) {
			result.outcome = "created";
			result.orderId = attempt.id;
			result.idsSeen.push(attempt.id);
			result.replayed = Boolean(attempt.replayed);
			break;
		}
		result.lastError = attempt.error;
		if (!retryable(attempt)) {
			result.outcome = "rejected";
			break;
		}
		const cause = attempt.status === undefined ? (/timeout/i.test(attempt.error ?? "") ? "client-timeout" : "network") : String(attempt.status);
		result.failures[cause] = (result.failures[cause] ?? 0) + 1;
		if (Date.now() - began > budgetMs) break;
		await sleep(Math.min(2000, 150 * 2 ** Math.min(n, 4)) * (0.5 + Math.random()));
	}
	if (result.outcome === "created" && order.replayProbe) {
		// The same key and body once more: the first order must come back, never a new one.
		for (let n = 0; n < 10; n++) {
			const again = await postOnce(baseUrl, order);
			if (again.status === 201 && again.id) {
				result.idsSeen.push(again.id);
				break;
			}
			if (!retryable(again)) {
				result.lastError = `replay probe: ${again.status} ${again.error ?? ""}`;
				break;
			}
			await sleep(500);
		}
	}
	if (result.outcome === "created" && result.orderId && order.cancelAfterMs !== undefined) {
		await sleep(order.cancelAfterMs);
		result.cancel = await cancelOrder(baseUrl, result.orderId, budgetMs);
	}
	result.elapsedMs = Date.now() - began;
	return result;
}

/** Cancels an order as a careful client does: a network error or a 5xx is tried again (cancel is idempotent). */
async function cancelOrder(baseUrl: string, orderId: string, budgetMs: number): Promise<CancelResult> {
	const began = Date.now();
	const result: CancelResult = { attempts: 0 };
	for (let n = 0; ; n++) {
		result.attempts++;
		try {
			const res = await apiFetch(`${baseUrl}/api/orders/${orderId}/cancel`, {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: JSON.stringify({ reason: "chaos: the client changed its mind" }),
				signal: AbortSignal.timeout(20_000)
			});
			const body = (await res.json().catch(() => ({}))) as { status?: unknown; detail?: unknown };
			result.httpStatus = res.status;
			if (res.status === 200) result.status = String(body.status);
			if (res.status < 500 && res.status !== 429) return result;
			result.lastError = `${res.status} ${String(body.detail ?? "")}`;
		} catch (err) {
			result.httpStatus = undefined;
			result.lastError = (err as Error).message;
		}
		if (Date.now() - began > budgetMs) return result;
		await sleep(Math.min(2000, 150 * 2 ** Math.min(n, 4)) * (0.5 + Math.random()));
	}
}

export interface LoadOptions {
	concurrency: number;
	/** The orders are spread over this time (so the chaos has something to hit). */
	spreadMs: number;
	budgetMs: number;
}

export async function runLoad(baseUrl: string, orders: PlannedOrder[], options: LoadOptions): Promise<OrderResult[]> {
	const results: OrderResult[] = new Array(orders.length);
	const began = Date.now();
	const gap = orders.length > 1 ? options.spreadMs / orders.length : 0;
	let next = 0;
	let done = 0;
	const worker = async () => {
		for (;;) {
			const index = next++;
			if (index >= orders.length) return;
			const due = began + index * gap;
			if (due > Date.now()) await sleep(due - Date.now());
			results[index] = await placeOrder(baseUrl, orders[index], options.budgetMs);
			done++;
			const r = results[index];
			if (r.outcome !== "created") log(`   order #${index} (${orders[index].key}): ${r.outcome} after ${r.attempts} attempts: ${r.httpStatus ?? ""} ${r.lastError ?? ""}`);
			if (done % 50 === 0) log(`load: ${done}/${orders.length} orders answered`);
		}
	};
	await Promise.all(Array.from({ length: options.concurrency }, worker));
	return results;
}
