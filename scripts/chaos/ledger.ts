/**
 * The ledger of a chaos run: what the clients were told (201s) against what the two databases and
 * the dead-letter queues hold at the end. Every problem is listed with the order it concerns.
 */
import { queryDatabase } from "../../test/support/services";
import { ConsumerGroups } from "../../lib/contracts/events";
import { queueDepths } from "./infra";
import type { OrderItem, OrderResult, PlannedOrder } from "./load";

const DEMO_UNITS = 1_000_000;

interface OrderRow {
	id: string;
	status: string;
	items: OrderItem[];
	error_message: string | null;
	idempotency_key: string | null;
	created_at: Date;
	updated_at: Date;
}

interface RecordRow {
	order_id: string;
	status: string;
	error_message: string | null;
	event_id: string;
	updated_at: Date;
}

interface ReservationRow {
	order_id: string;
	sku: string;
	quantity: number;
	/** Set once the stock went back (the order was cancelled or expired after it was reserved). */
	released_at: Date | null;
}

interface StockRow {
	sku: string;
	available: number;
	reserved: number;
}

interface OutboxCount {
	order_id: string;
	event_name: string;
	n: number;
	sent: number;
}

export interface Problem {
	orderId?: string;
	detail: string;
}

export interface LedgerInput {
	ordersDbUrl: string;
	processorDbUrl: string;
	vhostUrl: string;
	namespace: string;
	results: OrderResult[];
	plan: PlannedOrder[];
	chaosCounts: Record<string, number>;
	durationMs: number;
	unexpectedExits: string[];
	seed: number;
}

export interface Ledger {
	created: number;
	rejected: number;
	gaveUp: number;
	completed: number;
	failed: number;
	cancelled: number;
	expired: number;
	stillPending: number;
	pendingWithout201: number;
	lost: Problem[];
	duplicated: Problem[];
	mismatched: Problem[];
	deadLetters: Record<string, number>;
	queueDepths: Record<string, number | null>;
	notes: string[];
	/** Every order id a problem names, for the details section. */
	problemOrderIds: string[];
	/** Orders in the table for which the client never saw a 201. */
	unacknowledgedIds: string[];
	ok: boolean;
	text: string;
}

const group = <T, K>(rows: T[], key: (row: T) => K): Map<K, T[]> => {
	const map = new Map<K, T[]>();
	for (const row of rows) {
		const k = key(row);
		const list = map.get(k);
		if (list) list.push(row);
		else map.set(k, [row]);
	}
	return map;
};

const quantitiesBySku = (items: Array<{ sku: string; quantity: number }>): Map<string, number> => {
	const map = new Map<string, number>();
	for (const item of items) map.set(item.sku, (map.get(item.sku) ?? 0) + Number(item.quantity));
	return map;
};

const describe = (map: Map<string, number>) =>
	[...map.entries()]
		.sort(([a], [b]) => a.localeCompare(b))
		.map(([sku, q]) => `${sku}×${q}`)
		.join(", ") || "none";

export async function computeLedger(input: LedgerInput): Promise<Ledger> {
	const { ordersDbUrl, processorDbUrl } = input;
	const [orders, records, reservations, reservationTotals, stock, ordersOutbox, processorOutbox, inbox, lastHistory] = await Promise.all([
		queryDatabase<OrderRow>(ordersDbUrl, "SELECT id::text, status, items, error_message, idempotency_key, created_at, updated_at FROM orders"),
		queryDatabase<RecordRow>(processorDbUrl, "SELECT order_id::text, status, error_message, event_id, updated_at FROM processing_records"),
		queryDatabase<ReservationRow>(processorDbUrl, "SELECT order_id::text, sku, quantity, released_at FROM stock_reservations"),
		queryDatabase<{ total: number; distinct: number }>(
			processorDbUrl,
			"SELECT count(*)::int AS total, count(DISTINCT (order_id, sku))::int AS distinct FROM stock_reservations"
		),
		queryDatabase<StockRow>(processorDbUrl, "SELECT sku, available, reserved FROM stock"),
		queryDatabase<OutboxCount>(
			ordersDbUrl,
			"SELECT payload->>'orderId' AS order_id, event_name, count(*)::int AS n, count(sent_at)::int AS sent FROM outbox_events GROUP BY 1, 2"
		),
		queryDatabase<OutboxCount>(
			processorDbUrl,
			"SELECT payload->>'orderId' AS order_id, event_name, count(*)::int AS n, count(sent_at)::int AS sent FROM outbox_events GROUP BY 1, 2"
		),
		queryDatabase<{ order_id: string; event_name: string; n: number }>(
			ordersDbUrl,
			"SELECT order_id::text, event_name, count(*)::int AS n FROM processed_events GROUP BY 1, 2"
		),
		queryDatabase<{ order_id: string; status: string }>(
			ordersDbUrl,
			"SELECT DISTINCT ON (order_id) order_id::text, status FROM order_history ORDER BY order_id, id DESC"
		)
	]);
	const liveReservations = reservations.filter(r => r.released_at === null);
	const lastHistoryStatus = new Map(lastHistory.map(h => [h.order_id, h.status]));

	const lost: Problem[] = [];
	const duplicated: Problem[] = [];
	const mismatched: Problem[] = [];
	const notes: string[] = [];

	const orderById = new Map(orders.map(o => [o.id, o]));
	const recordsByOrder = group(records, r => r.order_id);
	const reservationsByOrder = group(reservations, r => r.order_id);
	const liveByOrder = group(liveReservations, r => r.order_id);
	const planByKey = new Map(input.plan.map(p => [p.key, p]));

	// --- what the clients were told ---------------------------------------------------------------
	const createdIds = new Set<string>();
	const createdByKey = new Map<string, string>();
	for (const result of input.results) {
		if (!result) continue;
		const distinctIds = [...new Set(result.idsSeen)];
		if (distinctIds.length > 1) {
			duplicated.push({ orderId: distinctIds[0], detail: `key ${result.order.key} answered with ${distinctIds.length} different orders: ${distinctIds.join(", ")}` });
		}
		for (const id of distinctIds) createdIds.add(id);
		if (result.orderId) createdByKey.set(result.order.key, result.orderId);
	}
	const rejected = input.results.filter(r => r?.outcome === "rejected");
	const gaveUp = input.results.filter(r => r?.outcome === "gave-up");
	for (const r of rejected) mismatched.push({ detail: `key ${r.order.key} was refused with HTTP ${r.httpStatus}: ${r.lastError ?? ""}` });

	// --- orders: one per key, none unknown -------------------------------------------------------
	for (const [key, rows] of group(orders, o => o.idempotency_key)) {
		if (key === null || !planByKey.has(key)) {
			for (const o of rows) duplicated.push({ orderId: o.id, detail: `order with an idempotency key the client never sent (${key}), status ${o.status}` });
		} else if (rows.length > 1) {
			for (const o of rows) duplicated.push({ orderId: o.id, detail: `${rows.length} orders for key ${key}` });
		}
	}

	// --- lost, and final states of the created orders ---------------------------------------------
	let completed = 0;
	let failed = 0;
	let cancelled = 0;
	let expired = 0;
	let stillPending = 0;
	for (const id of createdIds) {
		const order = orderById.get(id);
		if (!order) {
			lost.push({ orderId: id, detail: "answered 201 but missing from the orders table" });
			continue;
		}
		const record = recordsByOrder.get(id)?.[0];
		if (order.status === "completed") completed++;
		else if (order.status === "failed") failed++;
		else if (order.status === "cancelled") cancelled++;
		else if (order.status === "expired") expired++;
		else if (order.status === "pending" || order.status === "cancelling") {
			stillPending++;
			if (order.status === "cancelling") lost.push({ orderId: id, detail: `still cancelling; processor record ${record?.status ?? "none"}` });
			else if (!record) lost.push({ orderId: id, detail: "still pending and the processor has no record of it (order.created lost)" });
			else if (record.status === "COMPLETED" || record.status === "FAILED") {
				lost.push({ orderId: id, detail: `still pending while the processor's record is ${record.status} (order.processed lost)` });
			}
		} else notes.push(`order ${id} is '${order.status}'`);
	}
	const pendingWithout201 = orders.filter(o => o.status === "pending" && !createdIds.has(o.id));
	for (const o of pendingWithout201) {
		const record = recordsByOrder.get(o.id)?.[0];
		lost.push({ orderId: o.id, detail: `order without a 201 (key ${o.idempotency_key}) still pending, processor record ${record?.status ?? "none"}` });
	}
	const unacknowledged = orders.filter(o => !createdIds.has(o.id));
	if (unacknowledged.length > 0) {
		const states = group(unacknowledged, o => o.status);
		notes.push(
			`${unacknowledged.length} order(s) exist without a 201 seen by the client (client gave up): ` +
				[...states.entries()].map(([s, l]) => `${s} ${l.length}`).join(", ")
		);
		const resultByKey = new Map(input.results.filter(Boolean).map(r => [r.order.key, r]));
		for (const o of unacknowledged.slice(0, 20)) {
			const r = o.idempotency_key ? resultByKey.get(o.idempotency_key) : undefined;
			notes.push(
				`  ${o.id} (key ${o.idempotency_key}): ${o.status}, created_at ${new Date(o.created_at).toISOString()}; ` +
					`client ${r?.outcome ?? "unknown"}, attempts: ${r?.trace.join("; ") ?? "none"}`
			);
		}
	}

	// --- duplicated (or missing) effects -----------------------------------------------------------
	for (const [orderId, rows] of recordsByOrder) {
		if (rows.length > 1) duplicated.push({ orderId, detail: `${rows.length} processing records` });
		if (!orderById.has(orderId)) duplicated.push({ orderId, detail: `processing record (${rows[0].status}) for an order the orders table does not have` });
	}
	const totals = reservationTotals[0];
	if (totals.total !== totals.distinct) duplicated.push({ detail: `stock_reservations: ${totals.total} rows but ${totals.distinct} distinct (order, sku)` });
	for (const [orderId, rows] of group(reservations, r => `${r.order_id}|${r.sku}`)) {
		if (rows.length > 1) duplicated.push({ orderId: orderId.split("|")[0], detail: `${rows.length} reservation rows for ${orderId.split("|")[1]}` });
	}
	const reservedBySku = quantitiesBySku(liveReservations);
	for (const row of stock) {
		const reserved = Number(row.reserved);
		const available = Number(row.available);
		const sum = reservedBySku.get(row.sku) ?? 0;
		if (reserved !== sum) duplicated.push({ detail: `stock ${row.sku}: reserved ${reserved} but live reservations sum to ${sum}` });
		if (available + reserved !== DEMO_UNITS) {
			duplicated.push({ detail: `stock ${row.sku}: available ${available} + reserved ${reserved} = ${available + reserved}, not ${DEMO_UNITS}` });
		}
	}
	const stockSkus = new Set(stock.map(s => s.sku));
	for (const sku of reservedBySku.keys()) {
		if (!stockSkus.has(sku)) duplicated.push({ detail: `reservations for ${sku}, which the stock table does not have` });
	}
	for (const [orderId] of reservationsByOrder) {
		if (!orderById.has(orderId)) duplicated.push({ orderId, detail: "stock reserved for an order the orders table does not have" });
	}
	for (const order of orders) {
		const record = recordsByOrder.get(order.id)?.[0];
		const reserved = quantitiesBySku(liveByOrder.get(order.id) ?? []);
		if (record?.status === "COMPLETED" || order.status === "completed") {
			const wanted = quantitiesBySku(order.items);
			if (describe(wanted) !== describe(reserved)) {
				duplicated.push({
					orderId: order.id,
					detail: `order ${order.status} / record ${record?.status ?? "none"}: items ${describe(wanted)} but reserved ${describe(reserved)}`
				});
			}
		} else if (reserved.size > 0) {
			duplicated.push({ orderId: order.id, detail: `order ${order.status} / record ${record?.status ?? "none"} holds reservations ${describe(reserved)}` });
		}
	}
	// One order.created per order (orders' outbox), one order.processed per order (processor's outbox
	// and orders' inbox): a second event for one order is a second effect.
	for (const row of [...ordersOutbox, ...processorOutbox]) {
		if (row.n > 1) duplicated.push({ orderId: row.order_id, detail: `${row.n} '${row.event_name}' outbox rows (${row.sent} sent)` });
	}
	for (const row of inbox) {
		if (row.n > 1) duplicated.push({ orderId: row.order_id, detail: `${row.n} distinct '${row.event_name}' events applied (inbox)` });
	}

	// --- mismatched outcomes ---------------------------------------------------------------------
	for (const order of orders) {
		const record = recordsByOrder.get(order.id)?.[0];
		const plan = order.idempotency_key ? planByKey.get(order.idempotency_key) : undefined;
		if (order.status === "completed" || order.status === "failed") {
			const expected = order.status === "completed" ? "COMPLETED" : "FAILED";
			if (record?.status !== expected) {
				mismatched.push({ orderId: order.id, detail: `order ${order.status} but processor record ${record?.status ?? "missing"}` });
			}
		}
		if ((order.status === "cancelled" || order.status === "expired") && !["CANCELLED", "COMPENSATED", "FAILED"].includes(record?.status ?? "")) {
			mismatched.push({ orderId: order.id, detail: `order ${order.status} but processor record ${record?.status ?? "missing"} (not undone)` });
		}
		if (order.status !== "pending" && order.status !== "cancelling" && lastHistoryStatus.get(order.id) !== order.status) {
			mismatched.push({ orderId: order.id, detail: `order ${order.status} but its history ends '${lastHistoryStatus.get(order.id) ?? "nowhere"}'` });
		}
		if (plan?.unknownSku && !["failed", "cancelled", "expired"].includes(order.status)) {
			mismatched.push({ orderId: order.id, detail: `order names an unknown SKU but is '${order.status}'` });
		}
		if (plan && !plan.unknownSku && order.status === "failed") {
			mismatched.push({ orderId: order.id, detail: `order names only stocked SKUs but failed: ${order.error_message}` });
		}
	}

	// --- cancellations the clients asked for ---------------------------------------------------------
	const cancels = input.results.filter(r => r?.cancel);
	for (const r of cancels) {
		const order = r.orderId ? orderById.get(r.orderId) : undefined;
		const asked = r.cancel!;
		if (asked.httpStatus === 200 && order && order.status !== "cancelled") {
			mismatched.push({ orderId: order.id, detail: `cancel answered 200 (${asked.status}) but the order ended '${order.status}'` });
		} else if (asked.httpStatus === 409 && order && order.status !== "failed" && order.status !== "expired") {
			mismatched.push({ orderId: order.id, detail: `cancel refused with 409 but the order ended '${order.status}'` });
		} else if (asked.httpStatus !== 200 && asked.httpStatus !== 409) {
			mismatched.push({ orderId: r.orderId, detail: `cancel got ${asked.httpStatus ?? "no answer"} after ${asked.attempts} attempts: ${asked.lastError ?? ""}` });
		}
	}

	// --- queues ------------------------------------------------------------------------------------
	const prefix = `MOL-${input.namespace}`;
	const groups = Object.entries(ConsumerGroups);
	const dlqs = groups.map(([event, group]) => `${prefix}.DLQ.${group}.${event}`);
	const mains = groups.map(([event, group]) => `${prefix}.EVENTB.${group}.${event}`);
	const depths = await queueDepths(input.vhostUrl, [...dlqs, ...mains]);
	const deadLetters = Object.fromEntries(dlqs.map(q => [q, depths[q] ?? 0]));

	const problemOrderIds = [
		...new Set([...lost, ...duplicated, ...mismatched].map(p => p.orderId).filter((id): id is string => Boolean(id)))
	];
	const allPending = stillPending + pendingWithout201.length;
	const ok = lost.length === 0 && duplicated.length === 0 && mismatched.length === 0 && allPending === 0;

	// --- text ------------------------------------------------------------------------------------
	const lines: string[] = [];
	const list = (problems: Problem[]) => {
		for (const p of problems.slice(0, 40)) lines.push(`      - ${p.orderId ? `${p.orderId}: ` : ""}${p.detail}`);
		if (problems.length > 40) lines.push(`      … and ${problems.length - 40} more`);
	};
	const attempts = input.results.reduce((sum, r) => sum + (r?.attempts ?? 0), 0);
	const failures = new Map<string, number>();
	for (const r of input.results) for (const [cause, n] of Object.entries(r?.failures ?? {})) failures.set(cause, (failures.get(cause) ?? 0) + n);
	const replayProbes = input.results.filter(r => r?.order.replayProbe && r.idsSeen.length > 1).length;
	// A 201 marked Idempotent-Replayed on a retry: an earlier attempt made the order but its answer
	// was lost on the way; the key turned the retry into a replay instead of a second order.
	const replayedRetries = input.results.filter(r => r?.outcome === "created" && r.replayed && r.attempts > 1).length;
	lines.push("==================== CHAOS LEDGER ====================");
	lines.push(`  seed ${input.seed}, namespace ${input.namespace}, duration ${(input.durationMs / 1000).toFixed(1)} s`);
	lines.push(`  orders planned            ${input.plan.length} (${input.plan.filter(p => p.unknownSku).length} with an unknown SKU)`);
	lines.push(`  HTTP attempts             ${attempts} (retried failures: ${[...failures.entries()].map(([c, n]) => `${c} ${n}`).join(", ") || "none"}; replay probes ${replayProbes})`);
	lines.push(`  created (201, distinct)   ${createdIds.size} (${replayedRetries} of them answered by a replay after a failed attempt)`);
	lines.push(`  refused (4xx)             ${rejected.length}`);
	lines.push(`  client gave up            ${gaveUp.length}`);
	lines.push(`  completed                 ${completed}`);
	lines.push(`  failed                    ${failed} (at most ${[...createdByKey.keys()].filter(k => planByKey.get(k)?.unknownSku).length}: the unknown-SKU orders not cancelled or expired first)`);
	lines.push(`  cancelled                 ${cancelled}`);
	lines.push(`  expired                   ${expired}`);
	lines.push(
		`  cancels asked             ${cancels.length} (200: ${cancels.filter(r => r.cancel!.httpStatus === 200).length}, 409: ${cancels.filter(r => r.cancel!.httpStatus === 409).length})`
	);
	lines.push(`  stock                     reserved equals the live reservations for every SKU, and available + reserved = ${DEMO_UNITS}: ${duplicated.some(d => d.detail.startsWith("stock ")) ? "NO" : "yes"}`);
	lines.push(`  still pending             ${allPending}${pendingWithout201.length ? ` (${pendingWithout201.length} of them without a 201)` : ""}`);
	lines.push(`  lost                      ${lost.length}`);
	list(lost);
	lines.push(`  duplicated effects        ${duplicated.length}`);
	list(duplicated);
	lines.push(`  mismatched outcomes       ${mismatched.length}`);
	list(mismatched);
	lines.push(`  dead letters              ${Object.entries(deadLetters).map(([q, n]) => `${q} = ${n}`).join("; ")}`);
	lines.push(`  main queues at the end    ${mains.map(q => `${q} = ${depths[q] ?? "missing"}`).join("; ")}`);
	lines.push(
		`  rows                      orders ${orders.length}, processing_records ${records.length}, stock_reservations ${reservations.length} (${liveReservations.length} live)`
	);
	lines.push(`  chaos actions             ${Object.entries(input.chaosCounts).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`);
	lines.push(`  unexpected process exits  ${input.unexpectedExits.length}`);
	for (const e of input.unexpectedExits) lines.push(`      - ${e}`);
	for (const note of notes) lines.push(`  note: ${note}`);
	lines.push(`  RESULT                    ${ok ? "PASS" : "FAIL"}`);
	lines.push("======================================================");

	return {
		created: createdIds.size,
		rejected: rejected.length,
		gaveUp: gaveUp.length,
		completed,
		failed,
		cancelled,
		expired,
		stillPending: allPending,
		pendingWithout201: pendingWithout201.length,
		lost,
		duplicated,
		mismatched,
		deadLetters,
		queueDepths: depths,
		notes,
		problemOrderIds,
		unacknowledgedIds: unacknowledged.map(o => o.id),
		ok,
		text: lines.join("\n")
	};
}

/** Everything both databases hold about one order, for the failure report. */
export async function describeOrder(ordersDbUrl: string, processorDbUrl: string, orderId: string): Promise<string[]> {
	const lines: string[] = [];
	const [order] = await queryDatabase(ordersDbUrl, "SELECT id, status, error_message, idempotency_key, items, created_at, updated_at FROM orders WHERE id::text = $1", [orderId]);
	lines.push(`  orders.orders: ${order ? JSON.stringify(order) : "none"}`);
	const inbox = await queryDatabase(ordersDbUrl, "SELECT event_id, processed_at FROM processed_events WHERE order_id::text = $1", [orderId]);
	lines.push(`  orders.processed_events: ${JSON.stringify(inbox)}`);
	const ordersOutbox = await queryDatabase(
		ordersDbUrl,
		"SELECT id, event_name, payload->>'eventId' AS event_id, created_at, sent_at, attempts, last_error FROM outbox_events WHERE payload->>'orderId' = $1",
		[orderId]
	);
	lines.push(`  orders.outbox_events: ${JSON.stringify(ordersOutbox)}`);
	const history = await queryDatabase(ordersDbUrl, "SELECT at, step, status, event_id FROM order_history WHERE order_id::text = $1 ORDER BY id", [orderId]);
	lines.push(`  orders.order_history: ${JSON.stringify(history)}`);
	const records = await queryDatabase(processorDbUrl, "SELECT status, error_message, event_id, created_at, updated_at FROM processing_records WHERE order_id::text = $1", [orderId]);
	lines.push(`  processor.processing_records: ${JSON.stringify(records)}`);
	const reservations = await queryDatabase(processorDbUrl, "SELECT sku, quantity, created_at, released_at FROM stock_reservations WHERE order_id::text = $1", [orderId]);
	lines.push(`  processor.stock_reservations: ${JSON.stringify(reservations)}`);
	const processorOutbox = await queryDatabase(
		processorDbUrl,
		"SELECT id, event_name, payload->>'eventId' AS event_id, payload->>'status' AS status, created_at, sent_at, attempts, last_error FROM outbox_events WHERE payload->>'orderId' = $1",
		[orderId]
	);
	lines.push(`  processor.outbox_events: ${JSON.stringify(processorOutbox)}`);
	return lines;
}
