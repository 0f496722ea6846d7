import { Errors, ServiceBroker } from "moleculer";
import {
	BUSINESS_METRICS,
	MetricNames,
	deadLetterKind,
	recordDeadLetter,
	recordOrderCreated,
	recordOrderFinished,
	registerBusinessMetrics,
	setDeadLettersPending,
	setOutboxLag
} from "../../../../lib/metrics/business-metrics";

type Item = { labels: Record<string, string>; value?: number; count?: number; sum?: number };
const valuesOf = (broker: ServiceBroker, name: string): Item[] => (broker.metrics.getMetric(name)?.snapshot() ?? []) as unknown as Item[];
const valueOf = (broker: ServiceBroker, name: string, labels: Record<string, string> = {}) =>
	valuesOf(broker, name).find(item => Object.entries(labels).every(([k, v]) => item.labels[k] === v))?.value;

describe("Test the business metrics", () => {
	const brokers: ServiceBroker[] = [];
	const brokerWith = (enabled: boolean) => {
		const broker = new ServiceBroker({ logger: false, metrics: { enabled, collectProcessMetrics: false } });
		brokers.push(broker);
		return broker;
	};
	afterAll(() => Promise.all(brokers.map(b => b.stop())));

	it("should register every metric once, keeping the values of a first registration", () => {
		const broker = brokerWith(true);
		registerBusinessMetrics(broker);
		recordOrderCreated(broker);
		expect(() => registerBusinessMetrics(broker)).not.toThrow();
		expect(valueOf(broker, MetricNames.OrdersCreated)).toBe(1);
		for (const { name } of BUSINESS_METRICS) expect(broker.metrics.hasMetric(name)).toBe(true);
	});

	it("should start the counters of every fixed label set at 0", () => {
		const broker = brokerWith(true);
		registerBusinessMetrics(broker);
		expect(valuesOf(broker, MetricNames.OrdersFinished).map(i => [i.labels.status, i.value])).toEqual([
			["completed", 0],
			["failed", 0],
			["cancelled", 0],
			["expired", 0]
		]);
		expect(valueOf(broker, MetricNames.DeadLetters, { event: "order.created", group: "processor", reason: "validation" })).toBe(0);
		expect(valueOf(broker, MetricNames.EventRetries, { event: "order.processed", group: "orders" })).toBe(0);
	});

	it("should observe the saga's duration from the order's creation, by final status", () => {
		const broker = brokerWith(true);
		recordOrderFinished(broker, "completed", "2030-01-01T00:00:00.000Z", new Date("2030-01-01T00:00:02.500Z"));
		expect(valueOf(broker, MetricNames.OrdersFinished, { status: "completed" })).toBe(1);
		expect(valuesOf(broker, MetricNames.OrderSagaDuration)).toEqual([expect.objectContaining({ labels: { status: "completed" }, count: 1, sum: 2.5 })]);
	});

	it("should do nothing, and throw nothing, with metrics off", () => {
		const broker = brokerWith(false);
		expect(() => {
			registerBusinessMetrics(broker);
			recordOrderCreated(broker);
			recordOrderFinished(broker, "failed", new Date());
			setOutboxLag(broker, "orders", { pending: 1, oldestPendingAgeSeconds: 2 });
			recordDeadLetter(broker, "order.created", "processor", new Error("x"));
			setDeadLettersPending(broker, [{ event: "order.created", group: "processor", count: 1 }]);
		}).not.toThrow();
		expect(broker.metrics.hasMetric(MetricNames.OrdersCreated)).toBe(false);
	});

	it("should name the kind of error an event was given up on from a bounded set", () => {
		expect(deadLetterKind(new Errors.ValidationError("bad", "VALIDATION_ERROR", []))).toBe("validation");
		expect(deadLetterKind(new Errors.MoleculerClientError("Malformed message: x", 400, "MALFORMED_MESSAGE"))).toBe("malformed");
		expect(deadLetterKind(new Errors.MoleculerClientError("refused", 409, "SOME_RULE"))).toBe("rule");
		expect(deadLetterKind(new Error("connection reset"))).toBe("transient");
		expect(deadLetterKind(new TypeError("x is undefined"))).toBe("transient");
		expect(deadLetterKind(undefined)).toBe("transient");
	});

	it("should set the dead-letter depth per group, and 0 for a group no longer counted", () => {
		const broker = brokerWith(true);
		setDeadLettersPending(broker, [
			{ event: "order.created", group: "processor", count: 2 },
			{ event: "test.flaky", group: "flaky", count: 1 }
		]);
		setDeadLettersPending(broker, [
			{ event: "order.created", group: "processor", count: 1 },
			{ event: "order.created", group: "processor", count: 2 }
		]);
		expect(valueOf(broker, MetricNames.DeadLettersPending, { event: "order.created", group: "processor" })).toBe(3);
		expect(valueOf(broker, MetricNames.DeadLettersPending, { event: "test.flaky", group: "flaky" })).toBe(0);
	});
});
