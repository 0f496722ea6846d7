import { EVENT_SCHEMA_VERSION, Events } from "../../../../lib/contracts/events";
import {
	HistorySteps,
	ProcessingStatus,
	canAdvance,
	decideProcessing,
	demoCatalogue,
	isTerminal,
	orderCompensatedEvent,
	orderProcessedEvent,
	planReservation,
	type ProcessingDecision,
	type ProcessorEventName,
	type RecordState,
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
		expect(plan).toEqual({ ok: false, problem: "unknown_sku", reason: "Unknown SKU 'SKU-9999'." });
	});

	it("should refuse when the stock is short and name the SKU, the requested and the available units", () => {
		const plan = planReservation([{ sku: "SKU-0002", quantity: 6, unitPrice: 1 }], stock);
		expect(plan).toEqual({ ok: false, problem: "insufficient_stock", reason: "Insufficient stock for SKU 'SKU-0002': requested 6, available 5." });
	});

	it("should refuse a SKU with no units left", () => {
		const plan = planReservation([{ sku: "SKU-0003", quantity: 1, unitPrice: 1 }], stock);
		expect(plan).toEqual({ ok: false, problem: "insufficient_stock", reason: "Insufficient stock for SKU 'SKU-0003': requested 1, available 0." });
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
		expect(plan).toEqual({ ok: false, problem: "insufficient_stock", reason: "Insufficient stock for SKU 'SKU-0002': requested 6, available 5." });
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
		expect(plan).toEqual({ ok: false, problem: "unknown_sku", reason: "Unknown SKU 'SKU-0001'." });
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

	it("should cancel an unfinished record", () => {
		expect(canAdvance(ProcessingStatus.Pending, ProcessingStatus.Cancelled)).toBe(true);
		expect(canAdvance(ProcessingStatus.Processing, ProcessingStatus.Cancelled)).toBe(true);
	});

	it("should move a completed record to compensated only", () => {
		for (const to of Object.values(ProcessingStatus)) {
			expect(canAdvance(ProcessingStatus.Completed, to)).toBe(to === ProcessingStatus.Compensated);
		}
	});

	it("should never move a failed, cancelled or compensated record", () => {
		for (const from of [ProcessingStatus.Failed, ProcessingStatus.Cancelled, ProcessingStatus.Compensated]) {
			for (const to of Object.values(ProcessingStatus)) {
				expect(canAdvance(from, to)).toBe(false);
			}
		}
	});
});

describe("Test 'isTerminal'", () => {
	it("should treat completed, failed, cancelled and compensated as final", () => {
		expect(isTerminal(ProcessingStatus.Completed)).toBe(true);
		expect(isTerminal(ProcessingStatus.Failed)).toBe(true);
		expect(isTerminal(ProcessingStatus.Cancelled)).toBe(true);
		expect(isTerminal(ProcessingStatus.Compensated)).toBe(true);
	});

	it("should treat pending and processing as unfinished", () => {
		expect(isTerminal(ProcessingStatus.Pending)).toBe(false);
		expect(isTerminal(ProcessingStatus.Processing)).toBe(false);
	});
});

describe("Test 'decideProcessing'", () => {
	const record = (status: ProcessingStatus, cancellationHandled = false): RecordState => ({ status, cancellationHandled });
	const created = Events.OrderCreated;
	const cancelled = Events.OrderCancelled;
	const process: ProcessingDecision = { action: "process" };
	const ignore = (event: ProcessorEventName, because: "duplicate" | "late"): ProcessingDecision => ({
		action: "ignore",
		because,
		step: event === created ? HistorySteps.CreatedIgnored : HistorySteps.CancelledIgnored
	});

	/** Every (record, event) pair, with the one decision the saga allows for it. */
	const table: Array<[string, RecordState | null, ProcessorEventName, ProcessingDecision]> = [
		["no record", null, created, process],
		["no record", null, cancelled, { action: "compensate", next: ProcessingStatus.Cancelled, release: false, step: HistorySteps.CancelledBeforeProcessing }],
		["PENDING", record(ProcessingStatus.Pending), created, process],
		["PENDING", record(ProcessingStatus.Pending), cancelled, { action: "compensate", next: ProcessingStatus.Cancelled, release: false, step: HistorySteps.CancelledBeforeProcessing }],
		["PROCESSING", record(ProcessingStatus.Processing), created, process],
		["PROCESSING", record(ProcessingStatus.Processing), cancelled, { action: "compensate", next: ProcessingStatus.Cancelled, release: false, step: HistorySteps.CancelledBeforeProcessing }],
		["COMPLETED", record(ProcessingStatus.Completed), created, ignore(created, "duplicate")],
		["COMPLETED", record(ProcessingStatus.Completed), cancelled, { action: "compensate", next: ProcessingStatus.Compensated, release: true, step: HistorySteps.Compensated }],
		["FAILED", record(ProcessingStatus.Failed), created, ignore(created, "duplicate")],
		["FAILED", record(ProcessingStatus.Failed), cancelled, { action: "compensate", next: ProcessingStatus.Failed, release: false, step: HistorySteps.NothingToRelease }],
		["FAILED, cancellation handled", record(ProcessingStatus.Failed, true), created, ignore(created, "duplicate")],
		["FAILED, cancellation handled", record(ProcessingStatus.Failed, true), cancelled, ignore(cancelled, "duplicate")],
		["CANCELLED", record(ProcessingStatus.Cancelled, true), created, ignore(created, "late")],
		["CANCELLED", record(ProcessingStatus.Cancelled, true), cancelled, ignore(cancelled, "duplicate")],
		["COMPENSATED", record(ProcessingStatus.Compensated, true), created, ignore(created, "duplicate")],
		["COMPENSATED", record(ProcessingStatus.Compensated, true), cancelled, ignore(cancelled, "duplicate")]
	];

	it.each(table)("should decide for a record %s and '%s'", (_name, state, event, decision) => {
		expect(decideProcessing(state, event)).toEqual(decision);
	});

	it("should cover every status with every event", () => {
		const covered = new Set(table.map(([, state, event]) => `${state?.status ?? "none"}/${event}`));
		for (const status of [...Object.values(ProcessingStatus), "none"]) {
			for (const event of [created, cancelled]) expect(covered).toContain(`${status}/${event}`);
		}
	});

	it("should ignore a cancelled or compensated record whether or not it is flagged as cancelled", () => {
		for (const status of [ProcessingStatus.Cancelled, ProcessingStatus.Compensated]) {
			expect(decideProcessing(record(status, false), cancelled)).toMatchObject({ action: "ignore", because: "duplicate" });
			expect(decideProcessing(record(status, false), created)).toMatchObject({ action: "ignore" });
		}
	});

	it("should move a record only along the allowed transitions", () => {
		for (const [, state, event] of table) {
			const decision = decideProcessing(state, event);
			if (decision.action === "compensate" && state && decision.next !== state.status) {
				expect(canAdvance(state.status, decision.next)).toBe(true);
			}
		}
	});

	/** Runs a sequence of events through the state machine as the service does, from no record. */
	const replay = (events: ProcessorEventName[], outcome: ProcessingStatus.Completed | ProcessingStatus.Failed) => {
		let state: RecordState | null = null;
		let compensations = 0;
		let releases = 0;
		for (const event of events) {
			const decision: ProcessingDecision = decideProcessing(state, event);
			if (decision.action === "process") state = { status: outcome, cancellationHandled: false };
			if (decision.action === "compensate") {
				compensations++;
				if (decision.release) releases++;
				state = { status: decision.next, cancellationHandled: true };
			}
		}
		return { status: state?.status, compensations, releases };
	};

	it("should end in the same state whatever events come twice", () => {
		for (const outcome of [ProcessingStatus.Completed, ProcessingStatus.Failed] as const) {
			const once = replay([created, cancelled], outcome);
			expect(replay([created, created, cancelled, cancelled], outcome)).toEqual(once);
			expect(replay([created, cancelled, created, cancelled], outcome)).toEqual(once);
			expect(once.compensations).toBe(1);
		}
	});

	it("should never process an order whose cancellation came first, however often either event comes", () => {
		for (const events of [
			[cancelled, created],
			[cancelled, created, created],
			[cancelled, cancelled, created],
			[cancelled, created, cancelled, created]
		]) {
			expect(replay(events, ProcessingStatus.Completed)).toEqual({ status: ProcessingStatus.Cancelled, compensations: 1, releases: 0 });
		}
	});
});

describe("Test 'orderCompensatedEvent'", () => {
	it("should carry the cause, the correlation id and the released lines", () => {
		const now = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
		const event = orderCompensatedEvent("0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11", "corr-1", "expired", [{ sku: "SKU-0001", quantity: 2 }], "evt-1", now);
		expect(event).toEqual({
			eventId: "evt-1",
			version: EVENT_SCHEMA_VERSION,
			orderId: "0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11",
			correlationId: "corr-1",
			cause: "expired",
			released: [{ sku: "SKU-0001", quantity: 2 }],
			occurredAt: "2024-01-02T03:04:05.006Z"
		});
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
		const event = orderProcessedEvent(orderId, "corr-1", { ok: false, problem: "unknown_sku", reason: "Unknown SKU 'X'." }, "evt-9", now);
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
