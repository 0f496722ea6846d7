/**
 * The REPL's dead-letter commands call the deadLetters actions with what the operator typed; in one
 * process (no transporter) they list, show, replay and purge the events failed in the outboxes.
 */
import { randomUUID } from "node:crypto";
import { ServiceBroker, type Context } from "moleculer";
import type { Transaction } from "sequelize";
import { createDeadLetterReplCommands } from "../../../lib/repl/dead-letter-commands";
import { waitFor } from "../../support/services";
import { startSystem, type RunningSystem } from "../../support/system";

/** Runs one command as the REPL would, with what was typed; resolves with what it printed. */
function replRunner(broker: () => ServiceBroker) {
	let printed = "";
	const commands = createDeadLetterReplCommands(text => (printed += text));
	return async (command: string, args: Record<string, unknown> = {}): Promise<string> => {
		const def = commands.find(c => c.command.split(" ")[0] === command);
		if (!def) throw new Error(`no command ${command}`);
		printed = "";
		await def.action(broker(), { options: {}, ...args });
		return printed;
	};
}

describe("Test the dead-letter REPL commands", () => {
	const broker = new ServiceBroker({ logger: false });
	const calls: Array<{ action: string; params: unknown }> = [];
	const run = replRunner(() => broker);
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
	});
	afterAll(async () => {
		await broker.stop();
	});
	beforeEach(() => {
		calls.length = 0;
	});

	it("should list with the event and the filters typed as options", async () => {
		const printed = await run("dlq", { event: "order.created", options: { error: "timeout", order: "o-1" } });

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
		expect(await run("dlq-purge", { id: "x" })).toBe("Error: Dead letter 'x' was not found\n");
	});
});

describe("Test the dead-letter REPL commands on one node (no transporter)", () => {
	let system: RunningSystem;
	const run = replRunner(() => system.broker);
	const printedJson = async (command: string, args: Record<string, unknown> = {}) => JSON.parse(await run(command, args));

	beforeAll(async () => {
		system = await startSystem();
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should list, show, replay and purge an event the processor refused", async () => {
		const orderId = randomUUID();
		const orders = system.service("orders") as unknown as {
			transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T>;
			enqueueEvent(t: Transaction, name: string, group: string, payload: Record<string, unknown>): Promise<void>;
		};
		// A payload the processor's schema refuses: a permanent failure, on every run.
		await orders.transaction(t => orders.enqueueEvent(t, "order.created", "processor", { orderId, correlationId: "corr-repl", items: [] }));

		const listed = await waitFor("the refused event among the dead letters", async () => {
			const page = await printedJson("dlq", { event: "order.created", options: { order: orderId } });
			return page.count === 1 ? page.rows[0] : null;
		});
		expect(listed).toMatchObject({ id: expect.stringMatching(/^orders-outbox-\d+$/), queue: "outbox:orders", attempts: 1, orderId });
		expect(await printedJson("dlq-show", { id: listed.id })).toEqual(listed);

		expect(await printedJson("dlq-replay", { id: listed.id })).toMatchObject({ id: listed.id, attempts: 1 });
		await waitFor("the replayed event to fail again", async () => (await printedJson("dlq-show", { id: listed.id })).attempts === 2);

		expect(await printedJson("dlq-purge", { id: listed.id })).toMatchObject({ id: listed.id, attempts: 2, replays: 1 });
		expect(await run("dlq-show", { id: listed.id })).toMatch(/^Error: Dead letter 'orders-outbox-\d+' was not found/);
	});
});
