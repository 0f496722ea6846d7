import { oldestFirst, outboxDeadLetterId, parseOutboxDeadLetterId, type DeadLetterView } from "../../../../lib/contracts/dead-letters";

describe("Test 'outboxDeadLetterId' and 'parseOutboxDeadLetterId'", () => {
	it("should name the service in the id, so that rows of two outboxes never share one", () => {
		expect(outboxDeadLetterId("orders", "42")).toBe("orders-outbox-42");
		expect(outboxDeadLetterId("processor", 42)).not.toBe(outboxDeadLetterId("orders", 42));
	});

	it("should read the service and the row back from an id", () => {
		expect(parseOutboxDeadLetterId("orders-outbox-42")).toEqual({ service: "orders", rowId: "42" });
		expect(parseOutboxDeadLetterId(outboxDeadLetterId("processor", "7"))).toEqual({ service: "processor", rowId: "7" });
	});

	it("should not take a RabbitMQ message id or a garbled id for an outbox row", () => {
		for (const id of ["b1946ac9-2f4c-4f6e-9c1d-1f0c4a1a9e8f", "orders-outbox-", "orders-outbox-0", "orders-outbox-4x", "-outbox-3"]) {
			expect(parseOutboxDeadLetterId(id)).toBeNull();
		}
	});
});

describe("Test 'oldestFirst'", () => {
	const view = (id: string, deadLetteredAt: string | null) => ({ id, deadLetteredAt }) as DeadLetterView;

	it("should put the dead letter that failed first first, whichever outbox holds it", () => {
		const later = view("orders-outbox-1", "2024-05-17T08:30:16.000Z");
		const earlier = view("processor-outbox-9", "2024-05-17T08:30:15.000Z");
		expect([later, earlier].sort(oldestFirst)).toEqual([earlier, later]);
	});

	it("should order dead letters of one moment by id, numbers as numbers", () => {
		const at = "2024-05-17T08:30:15.000Z";
		const ids = [view("orders-outbox-10", at), view("orders-outbox-9", at)].sort(oldestFirst).map(v => v.id);
		expect(ids).toEqual(["orders-outbox-9", "orders-outbox-10"]);
	});
});
