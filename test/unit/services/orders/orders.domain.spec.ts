import { OrderStatus } from "../../../../lib/contracts/orders";
import { EVENT_SCHEMA_VERSION } from "../../../../lib/contracts/events";
import type { HistoryEntry } from "../../../../lib/contracts/history";
import {
	OrderTriggers,
	FINAL_STATUSES,
	computeTotal,
	decideOrder,
	expirySweepIntervalMs,
	isOrderId,
	historyPageParts,
	interleave,
	mergeOrder,
	orderCancelledEvent,
	orderCreatedEvent,
	pageWindow,
	processedTrigger,
	requestFingerprint,
	statusesMovedBy,
	type NewOrder,
	type OrderRequest,
	type OrderTrigger
} from "../../../../services/orders/orders.domain";

describe("Test 'computeTotal'", () => {
	it("should sum prices in cents so that 0.1 * 3 + 0.2 is exactly 0.5", () => {
		const total = computeTotal([
			{ sku: "A", quantity: 3, unitPrice: 0.1 },
			{ sku: "B", quantity: 1, unitPrice: 0.2 }
		]);
		expect(total).toBe(0.5);
	});

	it("should keep 0.1 + 0.2 at exactly 0.3", () => {
		expect(computeTotal([
			{ sku: "A", quantity: 1, unitPrice: 0.1 },
			{ sku: "B", quantity: 1, unitPrice: 0.2 }
		])).toBe(0.3);
	});

	it("should multiply each unit price by its quantity", () => {
		const total = computeTotal([
			{ sku: "A", quantity: 4, unitPrice: 19.99 },
			{ sku: "B", quantity: 2, unitPrice: 5.5 }
		]);
		expect(total).toBe(90.96);
	});

	it("should return 0 for an order without items", () => {
		expect(computeTotal([])).toBe(0);
	});

	it("should count a free item as nothing", () => {
		expect(computeTotal([
			{ sku: "A", quantity: 10, unitPrice: 0 },
			{ sku: "B", quantity: 1, unitPrice: 1.01 }
		])).toBe(1.01);
	});
});

describe("Test 'requestFingerprint'", () => {
	const base: OrderRequest = {
		customerId: "customer-1",
		currency: "EUR",
		items: [
			{ sku: "SKU-0001", quantity: 2, unitPrice: 9.99 },
			{ sku: "SKU-0002", quantity: 1, unitPrice: 1.5 }
		]
	};

	it("should be a sha-256 hex digest", () => {
		expect(requestFingerprint(base)).toMatch(/^[0-9a-f]{64}$/);
	});

	it("should give the same hash for the same content with keys in another order", () => {
		const reordered = {
			items: [
				{ unitPrice: 9.99, quantity: 2, sku: "SKU-0001" },
				{ quantity: 1, unitPrice: 1.5, sku: "SKU-0002" }
			],
			currency: "EUR",
			customerId: "customer-1"
		} as OrderRequest;
		expect(requestFingerprint(reordered)).toBe(requestFingerprint(base));
	});

	it("should ignore fields that are not part of the order", () => {
		const withExtra = { ...base, note: "please hurry" } as OrderRequest;
		expect(requestFingerprint(withExtra)).toBe(requestFingerprint(base));
	});

	it("should differ for another customer", () => {
		expect(requestFingerprint({ ...base, customerId: "customer-2" })).not.toBe(requestFingerprint(base));
	});

	it("should differ for another currency", () => {
		expect(requestFingerprint({ ...base, currency: "USD" })).not.toBe(requestFingerprint(base));
	});

	it("should differ for another quantity", () => {
		const items = [{ ...base.items[0], quantity: 3 }, base.items[1]];
		expect(requestFingerprint({ ...base, items })).not.toBe(requestFingerprint(base));
	});

	it("should differ for another unit price", () => {
		const items = [base.items[0], { ...base.items[1], unitPrice: 1.51 }];
		expect(requestFingerprint({ ...base, items })).not.toBe(requestFingerprint(base));
	});

	it("should differ for another SKU", () => {
		const items = [base.items[0], { ...base.items[1], sku: "SKU-0003" }];
		expect(requestFingerprint({ ...base, items })).not.toBe(requestFingerprint(base));
	});

	it("should differ when an item is missing", () => {
		expect(requestFingerprint({ ...base, items: [base.items[0]] })).not.toBe(requestFingerprint(base));
	});
});

describe("Test 'decideOrder'", () => {
	const S = OrderStatus;
	const T = OrderTriggers;
	const order = (status: OrderStatus, errorMessage: string | null = null) => ({ id: "o-1", status, errorMessage });
	type Expected =
		| { outcome: "apply"; next: OrderStatus; emit: string[] }
		| { outcome: "unchanged" | "ignore" | "refuse" };
	const to = (next: OrderStatus, ...emit: string[]): Expected => ({ outcome: "apply", next, emit });
	const ignored: Expected = { outcome: "ignore" };
	const unchanged: Expected = { outcome: "unchanged" };
	const refused: Expected = { outcome: "refuse" };

	// Every (status, trigger) pair: the whole state machine in one table.
	const table: Record<OrderStatus, Record<OrderTrigger, Expected>> = {
		[S.Pending]: {
			[T.ProcessedCompleted]: to(S.Completed),
			[T.ProcessedFailed]: to(S.Failed),
			[T.CancelRequested]: to(S.Cancelled, "cancelled"),
			[T.TimedOut]: to(S.Expired, "expired"),
			[T.Compensated]: ignored
		},
		[S.Completed]: {
			[T.ProcessedCompleted]: ignored,
			[T.ProcessedFailed]: ignored,
			[T.CancelRequested]: to(S.Cancelling, "cancelled"),
			[T.TimedOut]: ignored,
			[T.Compensated]: ignored
		},
		[S.Failed]: {
			[T.ProcessedCompleted]: ignored,
			[T.ProcessedFailed]: ignored,
			[T.CancelRequested]: refused,
			[T.TimedOut]: ignored,
			[T.Compensated]: ignored
		},
		[S.Cancelling]: {
			[T.ProcessedCompleted]: ignored,
			[T.ProcessedFailed]: ignored,
			[T.CancelRequested]: unchanged,
			[T.TimedOut]: ignored,
			[T.Compensated]: to(S.Cancelled)
		},
		[S.Cancelled]: {
			[T.ProcessedCompleted]: ignored,
			[T.ProcessedFailed]: ignored,
			[T.CancelRequested]: unchanged,
			[T.TimedOut]: ignored,
			[T.Compensated]: unchanged
		},
		[S.Expired]: {
			[T.ProcessedCompleted]: ignored,
			[T.ProcessedFailed]: ignored,
			[T.CancelRequested]: refused,
			[T.TimedOut]: ignored,
			[T.Compensated]: unchanged
		}
	};
	const pairs = Object.values(S).flatMap(status => Object.values(T).map(trigger => [status, trigger, table[status][trigger]] as const));

	it("should have a rule for every status and every trigger", () => {
		expect(pairs).toHaveLength(Object.values(S).length * Object.values(T).length);
		expect(pairs).toHaveLength(30);
	});

	it.each(pairs)("should, for a %s order and the trigger %s, decide %j", (status, trigger, expected) => {
		const decision = decideOrder(order(status), trigger);
		expect(decision.outcome).toBe(expected.outcome);
		if (expected.outcome === "apply" && decision.outcome === "apply") {
			expect(decision.next).toBe(expected.next);
			expect(decision.emit).toEqual(expected.emit.map(cause => ({ event: "order.cancelled", cause })));
		} else {
			expect(decision).toEqual({ outcome: expected.outcome, reason: expect.any(String) });
		}
	});

	it("should never move an order back to pending, whatever happens", () => {
		for (const [status, trigger] of pairs) {
			const decision = decideOrder(order(status), trigger);
			if (decision.outcome === "apply") expect(decision.next).not.toBe(S.Pending);
		}
	});

	it("should refuse to cancel a failed order, saying why it failed and that there is nothing to cancel", () => {
		const decision = decideOrder(order(S.Failed, "Unknown SKU 'SKU-9999'."), T.CancelRequested);
		expect(decision).toEqual({ outcome: "refuse", reason: "Order 'o-1' failed (Unknown SKU 'SKU-9999'): there is nothing to cancel." });
		expect(decideOrder(order(S.Failed), T.CancelRequested)).toEqual({ outcome: "refuse", reason: "Order 'o-1' failed: there is nothing to cancel." });
	});

	it("should refuse to cancel an expired order, saying it was already undone", () => {
		expect(decideOrder(order(S.Expired), T.CancelRequested)).toEqual({ outcome: "refuse", reason: "Order 'o-1' expired: it was already undone." });
	});

	it("should say why a late answer is ignored", () => {
		const decision = decideOrder(order(S.Expired), T.ProcessedCompleted);
		expect(decision.outcome === "ignore" && decision.reason).toContain("already expired");
	});
});

describe("Test 'statusesMovedBy'", () => {
	it("should let only a pending order expire, and only a cancelling one be compensated", () => {
		expect(statusesMovedBy(OrderTriggers.TimedOut)).toEqual([OrderStatus.Pending]);
		expect(statusesMovedBy(OrderTriggers.Compensated)).toEqual([OrderStatus.Cancelling]);
		expect(statusesMovedBy(OrderTriggers.CancelRequested)).toEqual([OrderStatus.Pending, OrderStatus.Completed]);
	});
});

describe("Test 'FINAL_STATUSES'", () => {
	it("should call final only the statuses no trigger moves out of, so not completed, which a cancel undoes", () => {
		expect(FINAL_STATUSES).toEqual([OrderStatus.Failed, OrderStatus.Cancelled, OrderStatus.Expired]);
	});
});

describe("Test 'processedTrigger'", () => {
	it("should map the processor's outcome to its trigger", () => {
		expect(processedTrigger("completed")).toBe(OrderTriggers.ProcessedCompleted);
		expect(processedTrigger("failed")).toBe(OrderTriggers.ProcessedFailed);
	});
});

describe("Test 'orderCancelledEvent'", () => {
	const at = new Date(Date.UTC(2024, 4, 17, 8, 30, 15, 123));

	it("should carry the order's id and correlation id, the cause and the reason", () => {
		expect(orderCancelledEvent({ id: "o-1", correlationId: "corr-1" }, "cancelled", "changed my mind", "evt-9", at)).toEqual({
			eventId: "evt-9",
			version: EVENT_SCHEMA_VERSION,
			orderId: "o-1",
			correlationId: "corr-1",
			occurredAt: "2024-05-17T08:30:15.123Z",
			cause: "cancelled",
			reason: "changed my mind"
		});
	});

	it("should leave the reason out when none was given", () => {
		expect(orderCancelledEvent({ id: "o-1", correlationId: "c" }, "expired", undefined, "e", at)).not.toHaveProperty("reason");
	});
});

/** Both lists merged as orders.history merges them: by the times of their entries. */
const mergeHistories = (own: HistoryEntry[], other: HistoryEntry[]) => {
	const times = (entries: HistoryEntry[]) => entries.map(e => Date.parse(e.at));
	return interleave(mergeOrder(times(own), times(other)), own, other);
};

describe("Test 'mergeOrder' and 'interleave'", () => {
	const entry = (service: "orders" | "processor", step: string, at: string): HistoryEntry => ({
		at,
		service,
		step,
		status: "s",
		eventId: null,
		correlationId: null,
		nodeID: "n",
		detail: null
	});

	it("should interleave both services' entries in time order", () => {
		const own = [entry("orders", "created", "2024-01-01T00:00:00.000Z"), entry("orders", "order.processed received", "2024-01-01T00:00:03.000Z")];
		const other = [entry("processor", "received", "2024-01-01T00:00:01.000Z"), entry("processor", "completed", "2024-01-01T00:00:02.000Z")];
		expect(mergeHistories(own, other).map(e => e.step)).toEqual(["created", "received", "completed", "order.processed received"]);
	});

	it("should keep each service's own order when times are equal or its clock runs backwards", () => {
		const own = [entry("orders", "a", "2024-01-01T00:00:05.000Z"), entry("orders", "b", "2024-01-01T00:00:05.000Z")];
		const other = [entry("processor", "x", "2024-01-01T00:00:05.000Z"), entry("processor", "y", "2024-01-01T00:00:04.000Z")];
		const steps = mergeHistories(own, other).map(e => e.step);
		expect(steps.filter(s => s === "a" || s === "b")).toEqual(["a", "b"]);
		expect(steps.filter(s => s === "x" || s === "y")).toEqual(["x", "y"]);
		expect(steps).toHaveLength(4);
	});

	it("should return one side alone when the other is empty", () => {
		const own = [entry("orders", "created", "2024-01-01T00:00:00.000Z")];
		expect(mergeHistories(own, [])).toEqual(own);
		expect(mergeHistories([], own)).toEqual(own);
	});
});

describe("Test 'historyPageParts'", () => {
	/** Times that mostly grow, with repeats and a clock that sometimes steps back. */
	const timesOf = (n: number, seed: number) => {
		let t = 1000 + seed;
		return Array.from({ length: n }, (_, i) => (t += ((i * 7 + seed * 13) % 5) - 1));
	};

	it("should cut every page of the merged history exactly where merging everything and slicing would", () => {
		for (const [ownCount, otherCount, seed] of [[0, 0, 1], [5, 0, 2], [0, 7, 3], [13, 9, 4], [40, 3, 5], [3, 40, 6], [25, 25, 7]]) {
			const own = timesOf(ownCount, seed).map((t, i) => ({ id: `o${i}`, t }));
			const other = timesOf(otherCount, seed + 100).map((t, i) => ({ id: `p${i}`, t }));
			const whole = interleave(mergeOrder(own.map(e => e.t), other.map(e => e.t)), own, other);
			for (const pageSize of [1, 4, 10]) {
				for (let offset = 0; offset <= whole.length + pageSize; offset += pageSize) {
					const parts = historyPageParts(own.map(e => e.t), other.map(e => e.t), offset, pageSize);
					const page = interleave(
						parts.sources,
						own.slice(parts.own.offset, parts.own.offset + parts.own.limit),
						other.slice(parts.other.offset, parts.other.offset + parts.other.limit)
					);
					expect(page).toEqual(whole.slice(offset, offset + pageSize));
				}
			}
		}
	});

	it("should need only the times of the entries up to the end of the page", () => {
		const own = [1, 2, 3, 4, 5, 6];
		const other = [1.5, 2.5, 100];
		expect(historyPageParts(own, other, 2, 3)).toEqual({
			sources: ["own", "other", "own"],
			own: { offset: 1, limit: 2 },
			other: { offset: 1, limit: 1 }
		});
		// Only the first offset + limit times of each list: the same answer.
		expect(historyPageParts(own.slice(0, 5), other.slice(0, 5), 2, 3)).toEqual(historyPageParts(own, other, 2, 3));
	});

	it("should give an empty page past the end", () => {
		expect(historyPageParts([1, 2], [3], 10, 5)).toEqual({ sources: [], own: { offset: 2, limit: 0 }, other: { offset: 1, limit: 0 } });
	});
});

describe("Test 'expirySweepIntervalMs'", () => {
	it("should sweep four times per timeout, at most every 5 s and at least every 100 ms", () => {
		expect(expirySweepIntervalMs(300_000)).toBe(5000);
		expect(expirySweepIntervalMs(8000)).toBe(2000);
		expect(expirySweepIntervalMs(1500)).toBe(375);
		expect(expirySweepIntervalMs(200)).toBe(100);
	});
});

describe("Test 'orderCreatedEvent'", () => {
	const order: NewOrder = {
		id: "0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11",
		customerId: "customer-1",
		items: [{ sku: "SKU-0001", quantity: 2, unitPrice: 9.99 }],
		totalAmount: 19.98,
		currency: "EUR",
		correlationId: "corr-42",
		createdAt: new Date(Date.UTC(2024, 4, 17, 8, 30, 15, 123))
	};

	it("should carry the order's fields, the event id and the schema version", () => {
		expect(orderCreatedEvent(order, "evt-1")).toEqual({
			eventId: "evt-1",
			version: EVENT_SCHEMA_VERSION,
			orderId: "0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11",
			correlationId: "corr-42",
			customerId: "customer-1",
			items: [{ sku: "SKU-0001", quantity: 2, unitPrice: 9.99 }],
			totalAmount: 19.98,
			currency: "EUR",
			occurredAt: "2024-05-17T08:30:15.123Z"
		});
	});

	it("should use schema version 1", () => {
		expect(orderCreatedEvent(order, "evt-1").version).toBe(1);
	});

	it("should copy only sku, quantity and unit price of each item", () => {
		const withExtra = { ...order, items: [{ sku: "SKU-0001", quantity: 2, unitPrice: 9.99, name: "Widget" }] };
		expect(orderCreatedEvent(withExtra, "evt-1").items).toEqual([{ sku: "SKU-0001", quantity: 2, unitPrice: 9.99 }]);
	});

	it("should not share the items array with the order", () => {
		const event = orderCreatedEvent(order, "evt-1");
		event.items[0].quantity = 99;
		expect(order.items[0].quantity).toBe(2);
	});
});

describe("Test 'isOrderId'", () => {
	it("should accept a lowercase UUID", () => {
		expect(isOrderId("0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11")).toBe(true);
	});

	it("should accept an uppercase UUID", () => {
		expect(isOrderId("0B0E8F6C-4A7E-4D8E-9A55-3F3C1F0F2A11")).toBe(true);
	});

	it.each([
		"",
		"42",
		"not-a-uuid",
		"0b0e8f6c4a7e4d8e9a553f3c1f0f2a11",
		"0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a1",
		"0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11x",
		" 0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11",
		"0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2g11"
	])("should reject %j", value => {
		expect(isOrderId(value)).toBe(false);
	});
});

describe("Test 'pageWindow'", () => {
	it("should default to page 1 of 20 rows", () => {
		expect(pageWindow(undefined, undefined, 100)).toEqual({ page: 1, pageSize: 20, limit: 20, offset: 0 });
	});

	it("should use the given default page size", () => {
		expect(pageWindow(undefined, undefined, 100, 50)).toEqual({ page: 1, pageSize: 50, limit: 50, offset: 0 });
	});

	it("should skip the rows of the earlier pages", () => {
		expect(pageWindow(3, 10, 100)).toEqual({ page: 3, pageSize: 10, limit: 10, offset: 20 });
	});

	it("should read page and size from query-string digits", () => {
		expect(pageWindow("4", "25", 100)).toEqual({ page: 4, pageSize: 25, limit: 25, offset: 75 });
	});

	it("should clamp the page size to the maximum", () => {
		expect(pageWindow(2, 500, 100)).toEqual({ page: 2, pageSize: 100, limit: 100, offset: 100 });
	});

	it("should clamp the default page size to a smaller maximum", () => {
		expect(pageWindow(undefined, undefined, 10)).toEqual({ page: 1, pageSize: 10, limit: 10, offset: 0 });
	});

	it("should raise a page below 1 to page 1", () => {
		expect(pageWindow(0, 10, 100)).toEqual({ page: 1, pageSize: 10, limit: 10, offset: 0 });
		expect(pageWindow(-3, 10, 100)).toEqual({ page: 1, pageSize: 10, limit: 10, offset: 0 });
	});

	it("should raise a page size below 1 to 1", () => {
		expect(pageWindow(5, 0, 100)).toEqual({ page: 5, pageSize: 1, limit: 1, offset: 4 });
	});
});
