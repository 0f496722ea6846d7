/**
 * The REPL's `history <orderId>` command calls `orders.history` with the id typed and prints one
 * line per step, saying when the processor's part is missing.
 */
import { ServiceBroker, Errors, type Context } from "moleculer";
import type { OrderHistory } from "../../../lib/contracts/history";
import { createHistoryReplCommands, formatHistory } from "../../../lib/repl/history-commands";

const history: OrderHistory = {
	orderId: "0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11",
	complete: false,
	total: 2,
	page: 1,
	pageSize: 100,
	totalPages: 1,
	entries: [
		{
			at: "2024-05-17T08:30:15.123Z",
			service: "orders",
			step: "created",
			status: "pending",
			eventId: "evt-1",
			correlationId: "corr-1",
			nodeID: "node-a",
			detail: null
		},
		{
			at: "2024-05-17T08:30:16.000Z",
			service: "orders",
			step: "cancel requested",
			status: "cancelled",
			eventId: "evt-2",
			correlationId: "corr-1",
			nodeID: "node-a",
			detail: { reason: "changed my mind" }
		}
	]
};

describe("Test the 'history' REPL command", () => {
	const broker = new ServiceBroker({ logger: false });
	const asked: unknown[] = [];
	let printed = "";
	const [command] = createHistoryReplCommands(text => (printed += text));

	beforeAll(async () => {
		broker.createService({
			name: "orders",
			actions: {
				history(ctx: Context<{ id: string }>) {
					asked.push(ctx.params);
					if (ctx.params.id !== history.orderId) throw new Errors.MoleculerClientError(`Order '${ctx.params.id}' was not found.`, 404);
					return history;
				}
			}
		});
		await broker.start();
	});
	afterAll(async () => {
		await broker.stop();
	});
	beforeEach(() => {
		printed = "";
		asked.length = 0;
	});

	it("should be the command 'history <orderId>'", () => {
		expect(command.command).toBe("history <orderId>");
	});

	it("should ask orders.history for the id typed and print each step on a line, oldest first", async () => {
		await command.action(broker, { orderId: history.orderId, options: {} });

		expect(asked).toEqual([{ id: history.orderId }]);
		const lines = printed.trimEnd().split("\n");
		expect(lines[0]).toBe(`Order ${history.orderId}: 2 step(s)`);
		expect(lines[1]).toMatch(/^2024-05-17T08:30:15\.123Z\s+orders\s+created\s+pending\s+event evt-1\s+node node-a$/);
		expect(lines[2]).toContain('{"reason":"changed my mind"}');
		expect(lines[3]).toContain("incomplete");
	});

	it("should print the error of an unknown order", async () => {
		await command.action(broker, { orderId: "nope", options: {} });
		expect(printed).toBe("Error: Order 'nope' was not found.\n");
	});

	it("should not call a complete history incomplete", () => {
		expect(formatHistory({ ...history, complete: true })).not.toContain("incomplete");
	});
});
