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
	const err = new Error(
		`Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-overflow' for queue 'q' in vhost 'v': received the value 'reject-publish' of type 'longstr' but current is none"`
	);

	it("should say in one line that the queue is of the other type, how to migrate, and which QUEUE_TYPE would fit it", () => {
		const line = mismatchLine("q", "quorum", "classic", err);
		expect(line).not.toContain("\n");
		expect(line).toBe(
			"Queue 'q' is a classic queue, but QUEUE_TYPE=quorum declares it a quorum queue, and RabbitMQ cannot change a queue's type. Migrate it as docs/queues.md says (stop the consumers, drain or shovel its messages, delete it, start again), or set QUEUE_TYPE=classic."
		);
	});

	it("should pass on what RabbitMQ says differs when the queue is neither type as this product declares it", () => {
		const line = mismatchLine("q", "quorum", undefined, err);
		expect(line).not.toContain("\n");
		expect(line).toContain("Queue 'q' exists with other arguments than this node declares with QUEUE_TYPE=quorum");
		expect(line).toContain("inequivalent arg 'x-overflow' for queue 'q' in vhost 'v': received the value 'reject-publish' of type 'longstr' but current is none");
		expect(line).toContain("docs/queues.md");
	});
});
