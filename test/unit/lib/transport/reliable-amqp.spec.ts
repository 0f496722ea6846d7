import { eventQueueNames } from "../../../../lib/transport/reliable-amqp";

describe("Test 'eventQueueNames'", () => {
	const names = eventQueueNames("MOL-staging", "processor", "order.created");

	it("should use Moleculer's own balanced-event queue as the main queue", () => {
		expect(names.main).toBe("MOL-staging.EVENTB.processor.order.created");
	});

	it("should name a dead-letter queue apart from the main queue", () => {
		expect(names.deadLetter).toBe("MOL-staging.DLQ.processor.order.created");
		expect(names.deadLetter).not.toBe(names.main);
	});

	it("should name one retry queue per attempt, apart from the other queues", () => {
		expect(names.retry(1)).toBe("MOL-staging.RETRY.processor.order.created.1");
		expect(names.retry(2)).toBe("MOL-staging.RETRY.processor.order.created.2");
		expect(names.retry(1)).not.toBe(names.retry(2));
		expect([names.main, names.deadLetter]).not.toContain(names.retry(1));
	});

	it("should keep the queues of different groups and events apart", () => {
		const other = eventQueueNames("MOL-staging", "orders", "order.processed");
		expect(other.main).toBe("MOL-staging.EVENTB.orders.order.processed");
		expect(other.main).not.toBe(names.main);
		expect(other.deadLetter).not.toBe(names.deadLetter);
		expect(other.retry(1)).not.toBe(names.retry(1));
	});
});
