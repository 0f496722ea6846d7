/**
 * REPL commands for dead letters (`npm run dev`): they call the `deadLetters` actions, exactly as
 * the admin REST endpoints do, so they work with a broker (RabbitMQ's dead-letter queues) and in one
 * process (the events marked failed in the outboxes) alike. moleculer-repl passes the parsed
 * arguments as an object (`{ id, event, options }`), whatever Moleculer's typings say.
 */
import type { ServiceBroker } from "moleculer";
import type { DeadLetterView } from "../contracts/dead-letters";
import { ConsumerGroups } from "../contracts/events";
import { ERR_DEAD_LETTER_NOT_FOUND } from "../../services/dead-letters/dead-letters.errors";

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

/** Every event that can be dead-lettered, with the group that consumes it: `order.created (processor), …`. */
const EVENT_GROUPS = Object.entries(ConsumerGroups)
	.map(([event, group]) => `${event} (${group})`)
	.join(", ");

/** The longest error text a row of the list shows; `dlq-show <id>` shows it whole. */
const LIST_ERROR_WIDTH = 60;

/** Dead letters as a table a person reads, oldest first, one per line. */
export function formatDeadLetters(page: { rows: DeadLetterView[]; count: number }): string {
	if (page.count === 0) return "No dead letters.\n";
	const columns: Array<[string, (v: DeadLetterView) => string]> = [
		["ID", v => v.id],
		["EVENT", v => v.event],
		["GROUP", v => v.group],
		["ATTEMPTS", v => String(v.attempts)],
		["REPLAYS", v => String(v.replays)],
		["DEAD-LETTERED", v => v.deadLetteredAt ?? "-"],
		["ORDER", v => v.orderId ?? "-"],
		["ERROR", v => shorten(v.error ?? "-", LIST_ERROR_WIDTH)]
	];
	const cells = [columns.map(([title]) => title), ...page.rows.map(row => columns.map(([, cell]) => cell(row)))];
	const widths = columns.map((_, i) => Math.max(...cells.map(line => line[i].length)));
	const lines = cells.map(line => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]))).join("  "));
	return `${lines.join("\n")}\n${page.count} dead letter(s), oldest first. dlq-show <id> shows one with its payload and whole error.\n`;
}

/** The first line of `text`, cut to `width` characters. */
function shorten(text: string, width: number): string {
	const line = text.split("\n")[0];
	return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** The dead-letter commands, writing their answers (a table, JSON, or `Error: …`) with `write`. */
export function createDeadLetterReplCommands(write: ReplWriter = toStdout) {
	const run = async (broker: ServiceBroker, action: string, params: Record<string, unknown>, format = (answer: unknown) => JSON.stringify(answer, null, 2) + "\n"): Promise<void> => {
		try {
			write(format(await broker.call(action, params)));
		} catch (err) {
			write(`Error: ${replMessage(err)}\n`);
		}
	};
	return [
		{
			command: "dlq [event]",
			description: `List dead letters, oldest first (event: ${EVENT_GROUPS})`,
			options: filterOptions,
			action: (broker: ServiceBroker, args: unknown) =>
				run(broker, "deadLetters.list", eventFilter(args as ReplParams), page => formatDeadLetters(page as { rows: DeadLetterView[]; count: number }))
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
			description: `Send every dead letter matching the filter back to be handled again (event: ${EVENT_GROUPS})`,
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

/** An error as the REPL says it: the service's "not found" points to the REST route, this one to `dlq`. */
function replMessage(err: unknown): string {
	const { message, type, data } = err as Error & { type?: string; data?: { id?: string } };
	if (type === ERR_DEAD_LETTER_NOT_FOUND) return `Dead letter '${data?.id}' was not found; list them with dlq.`;
	return message;
}

/** The dead-letter commands of the REPL, writing to the terminal. */
export const deadLetterReplCommands = createDeadLetterReplCommands();
