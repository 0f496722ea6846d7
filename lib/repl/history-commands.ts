/**
 * The REPL's `history <orderId>` command (`npm run dev`): it calls `orders.history`, as
 * `GET /api/orders/:id/history` does, and prints one line per step of both services, oldest first.
 */
import type { ServiceBroker } from "moleculer";
import type { OrderHistory } from "../contracts/history";
import type { ReplWriter } from "./dead-letter-commands";

const toStdout: ReplWriter = text => process.stdout.write(text);

/** An order's history as lines a person reads: time, service, step, status, then what else is known. */
export function formatHistory(history: OrderHistory): string {
	const lines = [`Order ${history.orderId}: ${history.entries.length} step(s)`];
	for (const e of history.entries) {
		const extra = [
			e.eventId ? `event ${e.eventId}` : "",
			`node ${e.nodeID}`,
			e.detail ? JSON.stringify(e.detail) : ""
		].filter(Boolean);
		lines.push(`${e.at}  ${e.service.padEnd(9)}  ${e.step.padEnd(28)}  ${e.status.padEnd(11)}  ${extra.join("  ")}`);
	}
	if (history.totalPages > 1) {
		lines.push(`(page ${history.page} of ${history.totalPages}: ${history.total} step(s) in all; GET /api/orders/${history.orderId}/history?page=2 reads on)`);
	}
	if (!history.complete) lines.push("(incomplete: the processor could not be asked; only the orders part is shown)");
	return `${lines.join("\n")}\n`;
}

/** The history command, writing its answer (or `Error: …`) with `write`. */
export function createHistoryReplCommands(write: ReplWriter = toStdout) {
	return [
		{
			command: "history <orderId>",
			description: "Show an order's history in both services, oldest first",
			action: async (broker: ServiceBroker, args: unknown): Promise<void> => {
				try {
					const history = await broker.call<OrderHistory, { id: string }>("orders.history", { id: String((args as { orderId?: string }).orderId) });
					write(formatHistory(history));
				} catch (err) {
					write(`Error: ${(err as Error).message}\n`);
				}
			}
		}
	];
}

/** The history command of the REPL, writing to the terminal. */
export const historyReplCommands = createHistoryReplCommands();
