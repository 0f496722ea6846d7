import { createAjv } from "../../../../lib/validation/ajv-validator";
import { ConsumerGroups, Events, orderCreatedSchema, orderProcessedSchema } from "../../../../lib/contracts/events";

const ajv = createAjv();
const validCreated = ajv.compile(orderCreatedSchema);
const validProcessed = ajv.compile(orderProcessedSchema);

const envelope = {
	eventId: "evt-1",
	version: 1,
	orderId: "0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11",
	correlationId: "corr-1",
	occurredAt: "2024-05-17T08:30:15.123Z"
};

const created = {
	...envelope,
	customerId: "customer-1",
	items: [{ sku: "SKU-0001", quantity: 2, unitPrice: 9.99 }],
	totalAmount: 19.98,
	currency: "EUR"
};

describe("Test 'orderCreatedSchema'", () => {
	it("should accept a well-formed event", () => {
		expect(validCreated(created)).toBe(true);
	});

	it("should refuse another schema version", () => {
		expect(validCreated({ ...created, version: 2 })).toBe(false);
	});

	it("should refuse an order id that is not a UUID", () => {
		expect(validCreated({ ...created, orderId: "order-1" })).toBe(false);
	});

	it("should refuse an occurredAt that is not a date-time", () => {
		expect(validCreated({ ...created, occurredAt: "yesterday" })).toBe(false);
	});

	it("should still accept a line of 1,000,000 units, as an order accepted before the 10,000 cap may carry", () => {
		expect(validCreated({ ...created, items: [{ sku: "SKU-0001", quantity: 1_000_000, unitPrice: 1 }], totalAmount: 1_000_000 })).toBe(true);
	});

	it("should refuse an item price with three decimals", () => {
		expect(validCreated({ ...created, items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 1.005 }] })).toBe(false);
	});

	it("should refuse a lowercase currency", () => {
		expect(validCreated({ ...created, currency: "eur" })).toBe(false);
	});

	it("should refuse an event without its correlation id", () => {
		const { correlationId: _omit, ...rest } = created;
		expect(validCreated(rest)).toBe(false);
	});
});

describe("Test 'orderProcessedSchema'", () => {
	it("should accept a completed answer", () => {
		expect(validProcessed({ ...envelope, status: "completed" })).toBe(true);
	});

	it("should accept a failed answer with its reason", () => {
		expect(validProcessed({ ...envelope, status: "failed", errorMessage: "Unknown SKU 'X'." })).toBe(true);
	});

	it("should refuse a status other than completed or failed", () => {
		expect(validProcessed({ ...envelope, status: "done" })).toBe(false);
	});

	it("should refuse an answer without a status", () => {
		expect(validProcessed(envelope)).toBe(false);
	});

	it("should refuse an error message longer than 2000 characters", () => {
		expect(validProcessed({ ...envelope, status: "failed", errorMessage: "x".repeat(2001) })).toBe(false);
	});

	it("should refuse fields of the order.created event", () => {
		expect(validProcessed({ ...envelope, status: "completed", totalAmount: 1 })).toBe(false);
	});
});

describe("Test 'ConsumerGroups'", () => {
	it("should deliver order.created to the processor and order.processed to orders", () => {
		expect(ConsumerGroups[Events.OrderCreated]).toBe("processor");
		expect(ConsumerGroups[Events.OrderProcessed]).toBe("orders");
	});
});
