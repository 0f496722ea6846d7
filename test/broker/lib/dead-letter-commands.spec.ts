/**
 * The REPL's dead-letter commands call the deadLetters actions with what the operator typed; in one
 * process (no transporter) they list, show, replay and purge the events failed in the outboxes.
 */
import { randomUUID } from "node:crypto";
import { ServiceBroker, type Context } from "moleculer";
import type { Transaction } from "sequelize";
import type { DeadLetterView } from "../../../lib/contracts/dead-letters";
import { ConsumerGroups } from "../../../lib/contracts/events";
import { createDeadLetterReplCommands } from "../../../lib/repl/dead-letter-commands";
import { DeadLetterNotFoundError } from "../../../services/dead-letters/dead-letters.errors";
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

const deadLetter = (id: string, overrides: Partial<DeadLetterView> = {}): DeadLetterView => ({
	id,
	event: "order.created",
	group: "processor",
	queue: "outbox:orders",
	attempts: 5,
	replays: 0,
	error: "connect ECONNREFUSED 127.0.0.1:5432",
	errorName: "Error",
	deadLetteredAt: "2024-05-17T08:30:15.123Z",
	orderId: "0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11",
	correlationId: "corr-1",
	payload: {},
	...overrides
});

describe("Test the dead-letter REPL commands", () => {
	const broker = new ServiceBroker({ logger: false });
	const calls: Array<{ action: string; params: unknown }> = [];
	const run = replRunner(() => broker);
	const record = (action: string) => (ctx: Context) => {
		calls.push({ action, params: ctx.params });
		return { answered: action };
	};
	let listed: DeadLetterView[] = [];

	beforeAll(async () => {
		broker.createService({
			name: "deadLetters",
			actions: {
				list: (ctx: Context) => {
					record("list")(ctx);
					return { rows: listed, count: listed.length };
				},
				get: (ctx: Context<{ id: string }>) => {
					record("get")(ctx);
					if (ctx.params.id === "nope") throw new DeadLetterNotFoundError("nope");
					return { answered: "get" };
				},
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
		listed = [];
		const printed = await run("dlq", { event: "order.created", options: { error: "timeout", order: "o-1" } });

		expect(calls).toEqual([{ action: "list", params: { event: "order.created", errorContains: "timeout", orderId: "o-1" } }]);
		expect(printed).toBe("No dead letters.\n");
	});

	it("should list dead letters as a table, one per line, with the first line of each error", async () => {
		listed = [
			deadLetter("orders-outbox-7"),
			deadLetter("orders-outbox-12", { event: "order.cancelled", attempts: 1, replays: 2, orderId: null, error: `payload refused\n${"x".repeat(200)}` })
		];
		const lines = (await run("dlq")).trimEnd().split("\n");

		expect(lines[0].split(/\s{2,}/)).toEqual(["ID", "EVENT", "GROUP", "ATTEMPTS", "REPLAYS", "DEAD-LETTERED", "ORDER", "ERROR"]);
		expect(lines[1].split(/\s{2,}/)).toEqual([
			"orders-outbox-7",
			"order.created",
			"processor",
			"5",
			"0",
			"2024-05-17T08:30:15.123Z",
			"0b0e8f6c-4a7e-4d8e-9a55-3f3c1f0f2a11",
			"connect ECONNREFUSED 127.0.0.1:5432"
		]);
		expect(lines[2].split(/\s{2,}/)).toEqual(["orders-outbox-12", "order.cancelled", "processor", "1", "2", "2024-05-17T08:30:15.123Z", "-", "payload refused"]);
		// The columns line up.
		expect(lines[1].indexOf("order.created")).toBe(lines[0].indexOf("EVENT"));
		expect(lines[3]).toBe("2 dead letter(s), oldest first. dlq-show <id> shows one with its payload and whole error.");
	});

	it("should point to the REPL's dlq when a dead letter is not found, not to the REST route", async () => {
		expect(await run("dlq-show", { id: "nope" })).toBe("Error: Dead letter 'nope' was not found; list them with dlq.\n");
	});

	it("should name every event that can be dead-lettered, and its group, in the help of dlq and dlq-replay-all", () => {
		const commands = createDeadLetterReplCommands(() => undefined);
		for (const name of ["dlq [event]", "dlq-replay-all [event]"]) {
			const { description } = commands.find(c => c.command === name)!;
			for (const [event, group] of Object.entries(ConsumerGroups)) expect(description).toContain(`${event} (${group})`);
		}
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

		const id = await waitFor("the refused event among the dead letters", async () => {
			const table = await run("dlq", { event: "order.created", options: { order: orderId } });
			const row = table.split("\n").find(line => line.includes(orderId));
			return row?.split(/\s+/)[0];
		});
		const listed = await printedJson("dlq-show", { id });
		expect(listed).toMatchObject({ id: expect.stringMatching(/^orders-outbox-\d+$/), queue: "outbox:orders", attempts: 1, orderId });

		expect(await printedJson("dlq-replay", { id: listed.id })).toMatchObject({ id: listed.id, attempts: 1 });
		await waitFor("the replayed event to fail again", async () => (await printedJson("dlq-show", { id: listed.id })).attempts === 2);

		expect(await printedJson("dlq-purge", { id: listed.id })).toMatchObject({ id: listed.id, attempts: 2, replays: 1 });
		expect(await run("dlq-show", { id: listed.id })).toMatch(/^Error: Dead letter 'orders-outbox-\d+' was not found; list them with dlq\.$/m);
	});
});
