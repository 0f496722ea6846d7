import { eventQueueNames, retryDelayMs } from "../../../../lib/transport/reliable-amqp";

const lowest = () => 0;
const highest = () => 1;

describe("Test 'retryDelayMs'", () => {
	it("should wait half the delay when the jitter is lowest", () => {
		expect(retryDelayMs(1, 1000, 60_000, lowest)).toBe(500);
	});

	it("should wait the full delay when the jitter is highest", () => {
		expect(retryDelayMs(1, 1000, 60_000, highest)).toBe(1000);
	});

	it("should wait three quarters of the delay for a middle jitter", () => {
		expect(retryDelayMs(1, 1000, 60_000, () => 0.5)).toBe(750);
	});

	it("should double the delay with every attempt", () => {
		expect([1, 2, 3, 4].map(attempt => retryDelayMs(attempt, 1000, 60_000, highest))).toEqual([1000, 2000, 4000, 8000]);
		expect([1, 2, 3, 4].map(attempt => retryDelayMs(attempt, 1000, 60_000, lowest))).toEqual([500, 1000, 2000, 4000]);
	});

	it("should never exceed the maximum delay", () => {
		expect(retryDelayMs(10, 1000, 30_000, highest)).toBe(30_000);
		expect(retryDelayMs(10, 1000, 30_000, lowest)).toBe(15_000);
	});

	it("should stay finite and capped for a very high attempt number", () => {
		expect(retryDelayMs(5000, 1000, 30_000, highest)).toBe(30_000);
	});

	it("should treat attempt 0 like the first attempt", () => {
		expect(retryDelayMs(0, 1000, 60_000, highest)).toBe(1000);
	});

	it("should round to whole milliseconds", () => {
		expect(retryDelayMs(1, 3, 60_000, () => 0.3)).toBe(2);
		expect(Number.isInteger(retryDelayMs(3, 333, 60_000, () => 0.77))).toBe(true);
	});

	it("should stay within half and all of the delay with the default random source", () => {
		for (let i = 0; i < 50; i++) {
			const delay = retryDelayMs(3, 1000, 60_000);
			expect(delay).toBeGreaterThanOrEqual(2000);
			expect(delay).toBeLessThanOrEqual(4000);
		}
	});
});

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
