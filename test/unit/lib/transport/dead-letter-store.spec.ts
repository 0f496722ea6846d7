import type { GetMessage } from "amqplib";
import { matches, toDeadLetterView } from "../../../../lib/transport/dead-letter-store";
import { DeliveryHeaders } from "../../../../lib/transport/reliable-amqp";

const queue = { event: "order.created", group: "processor", main: "MOL.EVENTB.processor.order.created" };

/** A message as `channel.get` returns it from a dead-letter queue. */
function deadLetter(headers: Record<string, unknown>, data: unknown = { orderId: "o-1", correlationId: "c-1" }): GetMessage {
	return {
		content: Buffer.from(JSON.stringify({ ver: "5", sender: "n1", event: "order.created", data })),
		fields: {} as GetMessage["fields"],
		properties: { messageId: "m-1", headers } as unknown as GetMessage["properties"]
	};
}

describe("Test 'toDeadLetterView'", () => {
	it("should show the attempts of a message never replayed, and no replay", () => {
		const view = toDeadLetterView(deadLetter({ [DeliveryHeaders.Attempts]: 3, [DeliveryHeaders.LastError]: "ECONNREFUSED" }), queue);
		expect(view).toMatchObject({ id: "m-1", attempts: 3, replays: 0, error: "ECONNREFUSED", orderId: "o-1", correlationId: "c-1" });
	});

	it("should add the runs before a replay to those after it, so the attempts keep growing", () => {
		const replayedOnce = deadLetter({ [DeliveryHeaders.Attempts]: 1, [DeliveryHeaders.PriorAttempts]: 3, [DeliveryHeaders.Replays]: 1 });
		expect(toDeadLetterView(replayedOnce, queue)).toMatchObject({ attempts: 4, replays: 1 });
	});

	it("should count a garbled header as no attempt instead of showing NaN", () => {
		expect(toDeadLetterView(deadLetter({ [DeliveryHeaders.Attempts]: "many" }), queue).attempts).toBe(0);
	});
});

describe("Test 'matches'", () => {
	const view = toDeadLetterView(deadLetter({ [DeliveryHeaders.LastError]: "Connection terminated" }), queue);

	it("should select a dead letter by its id, and by every other field given", () => {
		expect(matches(view, { id: "m-1" })).toBe(true);
		expect(matches(view, { id: "m-2" })).toBe(false);
		expect(matches(view, { id: "m-1", orderId: "o-1", errorContains: "TERMINATED" })).toBe(true);
		expect(matches(view, { id: "m-1", orderId: "o-2" })).toBe(false);
	});
});
