import { createAjv } from "../../../../lib/validation/ajv-validator";
import { MAX_PAGE_SIZE, createOrderSchema, listOrdersSchema, orderIdSchema } from "../../../../lib/contracts/orders";

const ajv = createAjv();
const validCreate = ajv.compile(createOrderSchema);
const validList = ajv.compile(listOrdersSchema);
const validId = ajv.compile(orderIdSchema);

const order = {
	customerId: "customer-1",
	currency: "EUR",
	items: [
		{ sku: "SKU-0001", quantity: 2, unitPrice: 9.99 },
		{ sku: "SKU-0002", quantity: 1, unitPrice: 10 }
	]
};

const withItem = (patch: Record<string, unknown>) => ({ ...order, items: [{ ...order.items[0], ...patch }] });

describe("Test 'createOrderSchema'", () => {
	it("should accept a well-formed order", () => {
		expect(validCreate(order)).toBe(true);
	});

	it("should accept a price with two decimals and a free item", () => {
		// 0.29 / 0.01 is not a whole number in binary floating point: the schema must still accept it.
		for (const unitPrice of [0.07, 0.29, 1.15, 4.35, 19.99]) {
			expect(validCreate(withItem({ unitPrice }))).toBe(true);
		}
		expect(validCreate(withItem({ unitPrice: 9.99 }))).toBe(true);
		expect(validCreate(withItem({ unitPrice: 10.01 }))).toBe(true);
		expect(validCreate(withItem({ unitPrice: 0 }))).toBe(true);
	});

	it("should refuse a unit price with three decimals", () => {
		expect(validCreate(withItem({ unitPrice: 1.005 }))).toBe(false);
		expect(validCreate(withItem({ unitPrice: 19.999 }))).toBe(false);
	});

	it("should take a price a float sum left a hair off its cents, as before (0.1 + 0.2)", () => {
		expect(validCreate(withItem({ unitPrice: 0.1 + 0.2 }))).toBe(true);
	});

	it("should refuse a negative unit price", () => {
		expect(validCreate(withItem({ unitPrice: -1 }))).toBe(false);
	});

	it("should refuse a lowercase currency", () => {
		expect(validCreate({ ...order, currency: "eur" })).toBe(false);
	});

	it("should refuse a currency that is not three letters", () => {
		expect(validCreate({ ...order, currency: "EURO" })).toBe(false);
	});

	it("should refuse a quantity of 0", () => {
		expect(validCreate(withItem({ quantity: 0 }))).toBe(false);
	});

	it("should refuse a fractional quantity", () => {
		expect(validCreate(withItem({ quantity: 1.5 }))).toBe(false);
	});

	it("should take up to 10,000 units of a line and refuse one more", () => {
		expect(validCreate(withItem({ quantity: 10_000 }))).toBe(true);
		expect(validCreate(withItem({ quantity: 10_001 }))).toBe(false);
		expect(validCreate(withItem({ quantity: 1_000_000 }))).toBe(false);
	});

	it("should refuse a quantity given as a string", () => {
		expect(validCreate(withItem({ quantity: "2" }))).toBe(false);
	});

	it("should refuse an order without items", () => {
		expect(validCreate({ ...order, items: [] })).toBe(false);
	});

	it("should accept an order without a customer (the caller's own, decided by the service) and refuse an empty one", () => {
		const { customerId: _omit, ...rest } = order;
		expect(validCreate(rest)).toBe(true);
		expect(validCreate({ ...order, customerId: "" })).toBe(false);
	});

	it("should refuse a field it does not know", () => {
		expect(validCreate({ ...order, status: "completed" })).toBe(false);
		expect(validCreate(withItem({ discount: 5 }))).toBe(false);
	});

	it("should refuse a SKU with spaces or a leading dash", () => {
		expect(validCreate(withItem({ sku: "SKU 1" }))).toBe(false);
		expect(validCreate(withItem({ sku: "-SKU" }))).toBe(false);
	});

	it("should refuse more than 100 items", () => {
		const items = Array.from({ length: 101 }, () => ({ sku: "SKU-0001", quantity: 1, unitPrice: 1 }));
		expect(validCreate({ ...order, items })).toBe(false);
		expect(validCreate({ ...order, items: items.slice(1) })).toBe(true);
	});
});

describe("Test 'listOrdersSchema'", () => {
	it("should accept no filter at all", () => {
		expect(validList({})).toBe(true);
	});

	it("should accept a page size given as digits or as an integer", () => {
		expect(validList({ pageSize: "10" })).toBe(true);
		expect(validList({ pageSize: 10 })).toBe(true);
	});

	it("should refuse a page size that is not a number", () => {
		expect(validList({ pageSize: "abc" })).toBe(false);
	});

	it("should refuse a page size of 0 and one above the maximum", () => {
		expect(validList({ pageSize: 0 })).toBe(false);
		expect(validList({ pageSize: "0" })).toBe(false);
		expect(validList({ pageSize: MAX_PAGE_SIZE + 1 })).toBe(false);
		expect(validList({ pageSize: MAX_PAGE_SIZE })).toBe(true);
	});

	it("should refuse a fractional or negative page", () => {
		expect(validList({ page: 1.5 })).toBe(false);
		expect(validList({ page: "-1" })).toBe(false);
		expect(validList({ page: "2" })).toBe(true);
	});

	it("should accept the known statuses only", () => {
		expect(validList({ status: "pending" })).toBe(true);
		expect(validList({ status: "cancelled" })).toBe(true);
		expect(validList({ status: "PENDING" })).toBe(false);
		expect(validList({ status: "shipped" })).toBe(false);
	});

	it("should refuse an unknown filter", () => {
		expect(validList({ sort: "createdAt" })).toBe(false);
	});
});

describe("Test 'orderIdSchema'", () => {
	it("should require a non-empty id", () => {
		expect(validId({ id: "0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11" })).toBe(true);
		expect(validId({ id: "" })).toBe(false);
		expect(validId({})).toBe(false);
	});
});
