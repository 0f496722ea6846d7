import type { Service } from "moleculer";
import { balancedEventsOf, isWildcard, mismatchLine } from "../../../../lib/transport/start-checks";

describe("Test 'balancedEventsOf'", () => {
	const service = (events: Record<string, unknown>) => ({ name: "orders", schema: { events } }) as unknown as Service;

	it("should name each event with its group, the service's name when none is given", () => {
		expect(balancedEventsOf(service({ "order.created": () => undefined, "order.processed": { group: "saga", handler: () => undefined } }))).toEqual([
			{ service: "orders", event: "order.created", group: "orders" },
			{ service: "orders", event: "order.processed", group: "saga" }
		]);
	});

	it("should leave out Moleculer's local '$' events", () => {
		expect(balancedEventsOf(service({ "$node.connected": () => undefined, "$services.*": () => undefined }))).toEqual([]);
	});
});

describe("Test 'isWildcard'", () => {
	it("should tell a pattern from an event's name", () => {
		expect(["orders.**", "orders.*", "order.create?"].map(isWildcard)).toEqual([true, true, true]);
		expect(isWildcard("order.created")).toBe(false);
	});
});

describe("Test 'mismatchLine'", () => {
	it("should say in one line which queue differs, what RabbitMQ says, what this node declares and where the migration is told", () => {
		const err = new Error(
			`Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost 'v': received the value 'quorum' of type 'longstr' but current is none"`
		);
		const line = mismatchLine("q", { durable: true, arguments: { "x-queue-type": "quorum" } }, "quorum", err);
		expect(line).not.toContain("\n");
		expect(line).toContain("Queue 'q'");
		expect(line).toContain("QUEUE_TYPE=quorum: x-queue-type=quorum");
		expect(line).toContain("received the value 'quorum' of type 'longstr' but current is none");
		expect(line).toContain("docs/queues.md");
	});
});
