/**
 * The REPL's dead-letter commands call the deadLetters actions with what the operator typed.
 */
import { ServiceBroker, type Context } from "moleculer";
import { deadLetterReplCommands } from "../../../lib/repl/dead-letter-commands";

describe("Test the dead-letter REPL commands", () => {
	const broker = new ServiceBroker({ logger: false });
	const calls: Array<{ action: string; params: unknown }> = [];
	let printed = "";
	const record = (action: string) => (ctx: Context) => {
		calls.push({ action, params: ctx.params });
		return { answered: action };
	};

	beforeAll(async () => {
		broker.createService({
			name: "deadLetters",
			actions: {
				list: record("list"),
				get: record("get"),
				replay: record("replay"),
				replayAll: record("replayAll"),
				purge: () => {
					throw new Error("Dead letter 'x' was not found");
				}
			}
		});
		await broker.start();
		jest.spyOn(process.stdout, "write").mockImplementation(chunk => {
			printed += String(chunk);
			return true;
		});
	});
	afterAll(async () => {
		jest.restoreAllMocks();
		await broker.stop();
	});
	beforeEach(() => {
		calls.length = 0;
		printed = "";
	});

	const run = (command: string, args: Record<string, unknown>) => {
		const def = deadLetterReplCommands.find(c => c.command.split(" ")[0] === command);
		if (!def) throw new Error(`no command ${command}`);
		return def.action(broker, { options: {}, ...args });
	};

	it("should list with the event and the filters typed as options", async () => {
		await run("dlq", { event: "order.created", options: { error: "timeout", order: "o-1" } });

		expect(calls).toEqual([{ action: "list", params: { event: "order.created", errorContains: "timeout", orderId: "o-1" } }]);
		expect(JSON.parse(printed)).toEqual({ answered: "list" });
	});

	it("should show, replay and replay all by what was typed", async () => {
		await run("dlq-show", { id: "m-1" });
		await run("dlq-replay", { id: "m-2" });
		await run("dlq-replay-all", {});

		expect(calls).toEqual([
			{ action: "get", params: { id: "m-1" } },
			{ action: "replay", params: { id: "m-2" } },
			{ action: "replayAll", params: {} }
		]);
	});

	it("should print the error of a failed command instead of throwing", async () => {
		await expect(run("dlq-purge", { id: "x" })).resolves.toBeUndefined();
		expect(printed).toBe("Error: Dead letter 'x' was not found\n");
	});
});
