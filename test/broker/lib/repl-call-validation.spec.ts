/**
 * The REPL's `call` (moleculer-repl) prints an error's message, its stack and its data. A call with
 * bad params must read as the validation message and the fields, not as a crash.
 */
import { ServiceBroker } from "moleculer";
import { createOrderSchema } from "../../../lib/contracts/orders";
import { AjvValidator } from "../../../lib/validation/ajv-validator";

// moleculer-repl's own `call` command, as the REPL runs it; the package has no typings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler: replCall } = require("moleculer-repl/src/commands/call") as {
	handler(broker: ServiceBroker, args: { actionName: string; options: Record<string, unknown> }): Promise<void>;
};

describe("Test the REPL's 'call' with params an action refuses", () => {
	const broker = new ServiceBroker({ logger: false, validator: new AjvValidator({}) });
	let printed = "";

	beforeAll(async () => {
		broker.createService({ name: "orders", actions: { create: { params: createOrderSchema, handler: () => ({ id: "o-1" }) } } });
		await broker.start();
	});
	afterAll(async () => {
		await broker.stop();
	});

	it("should print the fields to fix, without a stack trace", async () => {
		const write = (...args: unknown[]) => void (printed += `${args.join(" ")}\n`);
		const log = jest.spyOn(console, "log").mockImplementation(write);
		const error = jest.spyOn(console, "error").mockImplementation(write);
		try {
			await replCall(broker, { actionName: "orders.create", options: {} });
		} finally {
			log.mockRestore();
			error.mockRestore();
		}
		const text = printed.replace(/\u001b\[[0-9;]*m/g, "");

		// moleculer-repl's ">> ERROR:" line drops the message; the stack's first line is where it shows.
		expect(text).toContain("\nValidationError: Parameters validation error: 'items' is required; 'currency' is required.\n");
		expect(text).not.toMatch(/^\s+at /m);
		expect(text.trim().split("\n").length).toBeLessThanOrEqual(8);
	});
});
