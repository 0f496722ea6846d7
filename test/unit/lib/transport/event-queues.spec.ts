import { eventQueueNames, eventTopology, moleculerQueueOptions } from "../../../../lib/transport/event-queues";

describe("Test 'eventTopology'", () => {
	const names = eventQueueNames("MOL-t", "processor", "order.created");
	const byQueue = (type: "classic" | "quorum") =>
		Object.fromEntries(eventTopology(names, "orders.dlx", 3, type).map(q => [q.queue, q.options.arguments ?? {}]));

	it("should list the main queue, the dead-letter queue and one retry queue per retry, main queue first", () => {
		expect(eventTopology(names, "orders.dlx", 3).map(q => q.queue)).toEqual([names.main, names.deadLetter, names.retry(1), names.retry(2)]);
	});

	it("should declare classic queues without a type argument, so that queues declared before QUEUE_TYPE stay equivalent", () => {
		const args = byQueue("classic");
		expect(args[names.main]).toEqual({ "x-dead-letter-exchange": "orders.dlx", "x-dead-letter-routing-key": names.main });
		expect(args[names.deadLetter]).toEqual({});
		expect(args[names.retry(1)]).toEqual({ "x-dead-letter-exchange": "", "x-dead-letter-routing-key": names.main });
	});

	it("should make every quorum queue that dead-letters into another do it at least once", () => {
		const args = byQueue("quorum");
		for (const queue of [names.main, names.retry(1), names.retry(2)]) {
			expect(args[queue]).toMatchObject({ "x-queue-type": "quorum", "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish" });
		}
		expect(args[names.deadLetter]).toEqual({ "x-queue-type": "quorum" });
	});

	it("should keep every queue durable", () => {
		expect(eventTopology(names, "orders.dlx", 3, "quorum").every(q => q.options.durable)).toBe(true);
	});
});

describe("Test 'moleculerQueueOptions'", () => {
	it("should make Moleculer's own queues transient with quorum queues, so that they move with a reconnection to another RabbitMQ node", () => {
		expect(moleculerQueueOptions("quorum")).toEqual({ durable: false });
	});

	it("should leave Moleculer's own queue options alone with classic queues, so that existing queues stay equivalent", () => {
		expect(moleculerQueueOptions("classic")).toEqual({});
		expect(moleculerQueueOptions()).toEqual({});
	});
});
