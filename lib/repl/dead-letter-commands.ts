/**
 * REPL commands for dead letters (`npm run dev`): they call the `deadLetters` actions, exactly as
 * the admin REST endpoints do, so they work with a broker (RabbitMQ's dead-letter queues) and in one
 * process (the events marked failed in the outboxes) alike. moleculer-repl passes the parsed
 * arguments as an object (`{ id, event, options }`), whatever Moleculer's typings say.
 */
import type { ServiceBroker } from "moleculer";

interface ReplParams {
	id?: string;
	event?: string;
	options: Record<string, unknown>;
}

/** Where a command writes its answer: the terminal, or a test's buffer. */
export type ReplWriter = (text: string) => void;

const toStdout: ReplWriter = text => process.stdout.write(text);

const eventFilter = (p: ReplParams) => ({
	...(p.event ? { event: p.event } : {}),
	...(p.options.error ? { errorContains: String(p.options.error) } : {}),
	...(p.options.order ? { orderId: String(p.options.order) } : {})
});

const filterOptions = [
	{ option: "--error <text>", description: "only those whose last error contains the text" },
	{ option: "--order <orderId>", description: "only those of one order" }
];

/** The dead-letter commands, writing their answers (JSON, or `Error: …`) with `write`. */
export function createDeadLetterReplCommands(write: ReplWriter = toStdout) {
	const run = async (broker: ServiceBroker, action: string, params: Record<string, unknown>): Promise<void> => {
		try {
			write(`${JSON.stringify(await broker.call(action, params), null, 2)}\n`);
		} catch (err) {
			write(`Error: ${(err as Error).message}\n`);
		}
	};
	return [
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
			description: "Send one dead letter back to be handled again (through its queue, or its outbox)",
			action: (broker: ServiceBroker, args: unknown) => run(broker, "deadLetters.replay", { id: (args as ReplParams).id })
		},
		{
			command: "dlq-replay-all [event]",
			description: "Send every dead letter matching the filter back to be handled again",
			options: filterOptions,
			action: (broker: ServiceBroker, args: unknown) => run(broker, "deadLetters.replayAll", eventFilter(args as ReplParams))
		},
		{
			command: "dlq-purge <id>",
			description: "Delete one dead letter for good",
			action: (broker: ServiceBroker, args: unknown) => run(broker, "deadLetters.purge", { id: (args as ReplParams).id })
		}
	];
}

/** The dead-letter commands of the REPL, writing to the terminal. */
export const deadLetterReplCommands = createDeadLetterReplCommands();
