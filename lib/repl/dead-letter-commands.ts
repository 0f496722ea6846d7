/**
 * REPL commands for dead letters (`npm run dev`): they call the `deadLetters` actions, exactly as
 * the admin REST endpoints do. moleculer-repl passes the parsed arguments as an object
 * (`{ id, event, options }`), whatever Moleculer's typings say.
 */
import type { ServiceBroker } from "moleculer";

interface ReplParams {
	id?: string;
	event?: string;
	options: Record<string, unknown>;
}

function print(value: unknown): void {
	process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

async function run(broker: ServiceBroker, action: string, params: Record<string, unknown>): Promise<void> {
	try {
		print(await broker.call(action, params));
	} catch (err) {
		process.stdout.write(`Error: ${(err as Error).message}\n`);
	}
}

const eventFilter = (p: ReplParams) => ({
	...(p.event ? { event: p.event } : {}),
	...(p.options.error ? { errorContains: String(p.options.error) } : {}),
	...(p.options.order ? { orderId: String(p.options.order) } : {})
});

const filterOptions = [
	{ option: "--error <text>", description: "only those whose last error contains the text" },
	{ option: "--order <orderId>", description: "only those of one order" }
];

export const deadLetterReplCommands = [
	{
		command: "dlq [event]",
		description: "List dead letters (event: order.created or order.processed)",
		options: filterOptions,
		action: (broker: ServiceBroker, args: unknown) => run(broker, "deadLetters.list", eventFilter(args as ReplParams))
	},
	{
		command: "dlq-show <id>",
		description: "Show one dead letter",
		action: (broker: ServiceBroker, args: unknown) => run(broker, "deadLetters.get", { id: (args as ReplParams).id })
	},
	{
		command: "dlq-replay <id>",
		description: "Send one dead letter back to its queue",
		action: (broker: ServiceBroker, args: unknown) => run(broker, "deadLetters.replay", { id: (args as ReplParams).id })
	},
	{
		command: "dlq-replay-all [event]",
		description: "Send every dead letter matching the filter back to its queue",
		options: filterOptions,
		action: (broker: ServiceBroker, args: unknown) => run(broker, "deadLetters.replayAll", eventFilter(args as ReplParams))
	},
	{
		command: "dlq-purge <id>",
		description: "Delete one dead letter for good",
		action: (broker: ServiceBroker, args: unknown) => run(broker, "deadLetters.purge", { id: (args as ReplParams).id })
	}
];
