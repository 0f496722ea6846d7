/**
 * The processor's compensation on one node as `npm start` runs it: no transporter, embedded
 * PostgreSQL (PGlite). The same SQL as on a real server: cancel before and after processing,
 * the ledger, and the history.
 */
import { randomUUID } from "node:crypto";
import { ConsumerGroups, Events, type OrderCancelledEvent, type OrderCreatedEvent } from "../../lib/contracts/events";
import type { HistoryEntry } from "../../lib/contracts/history";
import { startSystem, type RunningSystem } from "../support/system";
import { orderCancelled, orderCreated } from "../support/processor-node";

describe("Processor compensation on one node (no transporter, embedded PostgreSQL)", () => {
	let system: RunningSystem;

	/** Without a transporter the handler runs inside `emit`: it is done when `emit` resolves. */
	const deliver = (event: OrderCreatedEvent | OrderCancelledEvent) => {
		const name = "cause" in event ? Events.OrderCancelled : Events.OrderCreated;
		return system.broker.emit(name, event, { groups: [ConsumerGroups[name]], throwError: true });
	};
	const history = (orderId: string) => system.broker.call<HistoryEntry[], { orderId: string }>("processor.history", { orderId });
	const stockOf = (sku: string) => system.broker.call("processor.getStock", { sku });

	beforeAll(async () => {
		system = await startSystem({ services: ["processor"] });
		await system.broker.call("processor.setStock", { sku: "LOCAL-1", available: 10 });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should release a completed order's stock once and record each step", async () => {
		const orderId = randomUUID();
		await deliver(orderCreated(orderId, [{ sku: "LOCAL-1", quantity: 3 }]));
		expect(await stockOf("LOCAL-1")).toEqual({ sku: "LOCAL-1", available: 7, reserved: 3 });

		const cancel = orderCancelled(orderId, "cancelled", "by the test");
		await deliver(cancel);
		await deliver(cancel);

		expect(await stockOf("LOCAL-1")).toEqual({ sku: "LOCAL-1", available: 10, reserved: 0 });
		expect((await history(orderId)).map(e => [e.step, e.status])).toEqual([
			["order.created received", "PROCESSING"],
			["stock reserved", "COMPLETED"],
			["order.cancelled received", "COMPLETED"],
			["compensated", "COMPENSATED"],
			["order.cancelled ignored", "COMPENSATED"]
		]);
	});

	it("should never reserve for an order whose cancellation came first", async () => {
		const orderId = randomUUID();
		await deliver(orderCancelled(orderId, "expired"));
		await deliver(orderCreated(orderId, [{ sku: "LOCAL-1", quantity: 3 }]));

		expect(await stockOf("LOCAL-1")).toEqual({ sku: "LOCAL-1", available: 10, reserved: 0 });
		expect((await history(orderId)).map(e => [e.step, e.status, e.detail?.because ?? null])).toEqual([
			["order.cancelled received", "CANCELLED", null],
			["cancelled before processing", "CANCELLED", null],
			["order.created ignored", "CANCELLED", "late"]
		]);
	});
});
