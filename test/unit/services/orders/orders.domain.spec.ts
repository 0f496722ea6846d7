import { OrderStatus, type CreateOrderParams } from "../../../../lib/contracts/orders";
import { EVENT_SCHEMA_VERSION } from "../../../../lib/contracts/events";
import {
	canTransition,
	computeTotal,
	isOrderId,
	orderCreatedEvent,
	pageWindow,
	requestFingerprint,
	statusAfterProcessing,
	type NewOrder
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
	const base: CreateOrderParams = {
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
		} as CreateOrderParams;
		expect(requestFingerprint(reordered)).toBe(requestFingerprint(base));
	});

	it("should ignore fields that are not part of the order", () => {
		const withExtra = { ...base, note: "please hurry" } as CreateOrderParams;
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

describe("Test 'canTransition'", () => {
	it("should let a pending order complete, fail or be cancelled", () => {
		expect(canTransition(OrderStatus.Pending, OrderStatus.Completed)).toBe(true);
		expect(canTransition(OrderStatus.Pending, OrderStatus.Failed)).toBe(true);
		expect(canTransition(OrderStatus.Pending, OrderStatus.Cancelled)).toBe(true);
	});

	it("should never move an order back to pending", () => {
		expect(canTransition(OrderStatus.Completed, OrderStatus.Pending)).toBe(false);
		expect(canTransition(OrderStatus.Failed, OrderStatus.Pending)).toBe(false);
		expect(canTransition(OrderStatus.Cancelled, OrderStatus.Pending)).toBe(false);
	});

	it("should not let a completed order become failed", () => {
		expect(canTransition(OrderStatus.Completed, OrderStatus.Failed)).toBe(false);
	});

	it("should not let a failed order become completed", () => {
		expect(canTransition(OrderStatus.Failed, OrderStatus.Completed)).toBe(false);
	});

	it("should keep a cancelled order cancelled", () => {
		for (const to of Object.values(OrderStatus)) {
			expect(canTransition(OrderStatus.Cancelled, to)).toBe(false);
		}
	});

	it("should not count staying in the same status as a transition", () => {
		for (const status of Object.values(OrderStatus)) {
			expect(canTransition(status, status)).toBe(false);
		}
	});
});

describe("Test 'statusAfterProcessing'", () => {
	it("should complete a pending order on a completed answer", () => {
		expect(statusAfterProcessing(OrderStatus.Pending, "completed")).toBe(OrderStatus.Completed);
	});

	it("should fail a pending order on a failed answer", () => {
		expect(statusAfterProcessing(OrderStatus.Pending, "failed")).toBe(OrderStatus.Failed);
	});

	it.each([OrderStatus.Completed, OrderStatus.Failed, OrderStatus.Cancelled])(
		"should leave a %s order unchanged on any answer",
		status => {
			expect(statusAfterProcessing(status, "completed")).toBeNull();
			expect(statusAfterProcessing(status, "failed")).toBeNull();
		}
	);
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
