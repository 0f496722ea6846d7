import { EVENT_SCHEMA_VERSION } from "../../../../lib/contracts/events";
import {
	ProcessingStatus,
	canAdvance,
	demoCatalogue,
	isTerminal,
	orderProcessedEvent,
	planReservation,
	type StockLevel
} from "../../../../services/processor/processor.domain";

describe("Test 'planReservation'", () => {
	const stock: StockLevel[] = [
		{ sku: "SKU-0001", available: 10 },
		{ sku: "SKU-0002", available: 5 },
		{ sku: "SKU-0003", available: 0 }
	];

	it("should reserve every line when the stock serves the order", () => {
		const plan = planReservation(
			[
				{ sku: "SKU-0002", quantity: 5, unitPrice: 1 },
				{ sku: "SKU-0001", quantity: 3, unitPrice: 2 }
			],
			stock
		);
		expect(plan).toEqual({
			ok: true,
			lines: [
				{ sku: "SKU-0001", quantity: 3 },
				{ sku: "SKU-0002", quantity: 5 }
			]
		});
	});

	it("should list the reserved lines sorted by SKU", () => {
		const plan = planReservation(
			[
				{ sku: "SKU-0010", quantity: 1, unitPrice: 1 },
				{ sku: "SKU-0002", quantity: 1, unitPrice: 1 },
				{ sku: "SKU-0001", quantity: 1, unitPrice: 1 }
			],
			demoCatalogue(10, 5)
		);
		expect(plan.ok && plan.lines.map(l => l.sku)).toEqual(["SKU-0001", "SKU-0002", "SKU-0010"]);
	});

	it("should refuse an unknown SKU and name it", () => {
		const plan = planReservation(
			[
				{ sku: "SKU-0001", quantity: 1, unitPrice: 1 },
				{ sku: "SKU-9999", quantity: 1, unitPrice: 1 }
			],
			stock
		);
		expect(plan).toEqual({ ok: false, reason: "Unknown SKU 'SKU-9999'." });
	});

	it("should refuse when the stock is short and name the SKU, the requested and the available units", () => {
		const plan = planReservation([{ sku: "SKU-0002", quantity: 6, unitPrice: 1 }], stock);
		expect(plan).toEqual({ ok: false, reason: "Insufficient stock for SKU 'SKU-0002': requested 6, available 5." });
	});

	it("should refuse a SKU with no units left", () => {
		const plan = planReservation([{ sku: "SKU-0003", quantity: 1, unitPrice: 1 }], stock);
		expect(plan).toEqual({ ok: false, reason: "Insufficient stock for SKU 'SKU-0003': requested 1, available 0." });
	});

	it("should accept an order that takes exactly the units available", () => {
		const plan = planReservation([{ sku: "SKU-0001", quantity: 10, unitPrice: 1 }], stock);
		expect(plan).toEqual({ ok: true, lines: [{ sku: "SKU-0001", quantity: 10 }] });
	});

	it("should add up lines of the same SKU before comparing with the stock", () => {
		const plan = planReservation(
			[
				{ sku: "SKU-0002", quantity: 3, unitPrice: 1 },
				{ sku: "SKU-0002", quantity: 3, unitPrice: 1 }
			],
			stock
		);
		expect(plan).toEqual({ ok: false, reason: "Insufficient stock for SKU 'SKU-0002': requested 6, available 5." });
	});

	it("should reserve one summed line for repeated SKUs that fit", () => {
		const plan = planReservation(
			[
				{ sku: "SKU-0001", quantity: 4, unitPrice: 1 },
				{ sku: "SKU-0002", quantity: 1, unitPrice: 1 },
				{ sku: "SKU-0001", quantity: 6, unitPrice: 1 }
			],
			stock
		);
		expect(plan).toEqual({
			ok: true,
			lines: [
				{ sku: "SKU-0001", quantity: 10 },
				{ sku: "SKU-0002", quantity: 1 }
			]
		});
	});

	it("should refuse everything against an empty stock", () => {
		const plan = planReservation([{ sku: "SKU-0001", quantity: 1, unitPrice: 1 }], []);
		expect(plan).toEqual({ ok: false, reason: "Unknown SKU 'SKU-0001'." });
	});
});

describe("Test 'canAdvance'", () => {
	it("should move a pending record to processing only", () => {
		expect(canAdvance(ProcessingStatus.Pending, ProcessingStatus.Processing)).toBe(true);
		expect(canAdvance(ProcessingStatus.Pending, ProcessingStatus.Completed)).toBe(false);
		expect(canAdvance(ProcessingStatus.Pending, ProcessingStatus.Failed)).toBe(false);
	});

	it("should let a processing record complete or fail", () => {
		expect(canAdvance(ProcessingStatus.Processing, ProcessingStatus.Completed)).toBe(true);
		expect(canAdvance(ProcessingStatus.Processing, ProcessingStatus.Failed)).toBe(true);
	});

	it("should never move a processing record back to pending", () => {
		expect(canAdvance(ProcessingStatus.Processing, ProcessingStatus.Pending)).toBe(false);
	});

	it("should never move a finished record", () => {
		for (const from of [ProcessingStatus.Completed, ProcessingStatus.Failed]) {
			for (const to of Object.values(ProcessingStatus)) {
				expect(canAdvance(from, to)).toBe(false);
			}
		}
	});
});

describe("Test 'isTerminal'", () => {
	it("should treat completed and failed as final", () => {
		expect(isTerminal(ProcessingStatus.Completed)).toBe(true);
		expect(isTerminal(ProcessingStatus.Failed)).toBe(true);
	});

	it("should treat pending and processing as unfinished", () => {
		expect(isTerminal(ProcessingStatus.Pending)).toBe(false);
		expect(isTerminal(ProcessingStatus.Processing)).toBe(false);
	});
});

describe("Test 'orderProcessedEvent'", () => {
	const orderId = "0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11";
	const now = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));

	it("should announce a completed order without an error message", () => {
		const event = orderProcessedEvent(orderId, "corr-1", { ok: true, lines: [] }, "evt-9", now);
		expect(event).toEqual({
			eventId: "evt-9",
			version: EVENT_SCHEMA_VERSION,
			orderId,
			correlationId: "corr-1",
			status: "completed",
			occurredAt: "2024-01-02T03:04:05.006Z"
		});
		expect(event).not.toHaveProperty("errorMessage");
	});

	it("should announce a failed order with the reason", () => {
		const event = orderProcessedEvent(orderId, "corr-1", { ok: false, reason: "Unknown SKU 'X'." }, "evt-9", now);
		expect(event).toEqual({
			eventId: "evt-9",
			version: EVENT_SCHEMA_VERSION,
			orderId,
			correlationId: "corr-1",
			status: "failed",
			errorMessage: "Unknown SKU 'X'.",
			occurredAt: "2024-01-02T03:04:05.006Z"
		});
	});
});

describe("Test 'demoCatalogue'", () => {
	const catalogue = demoCatalogue();

	it("should hold 100 SKUs", () => {
		expect(catalogue).toHaveLength(100);
	});

	it("should name them SKU-0001 to SKU-0100", () => {
		expect(catalogue[0].sku).toBe("SKU-0001");
		expect(catalogue[9].sku).toBe("SKU-0010");
		expect(catalogue[99].sku).toBe("SKU-0100");
		expect(new Set(catalogue.map(s => s.sku)).size).toBe(100);
	});

	it("should stock one million units of each", () => {
		expect(catalogue.every(s => s.available === 1_000_000)).toBe(true);
	});

	it("should build a smaller catalogue on request", () => {
		expect(demoCatalogue(2, 7)).toEqual([
			{ sku: "SKU-0001", available: 7 },
			{ sku: "SKU-0002", available: 7 }
		]);
	});
});
