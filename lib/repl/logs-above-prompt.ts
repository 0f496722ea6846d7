/**
 * Log lines in the REPL (`npm run dev`) without breaking what is being typed: a line logged while
 * the prompt waits is written above it, and the prompt is drawn again below with the text typed so
 * far, the cursor where it was. While a command runs (no prompt on screen) and once the REPL is
 * closed, lines are written as they come.
 */
import { clearScreenDown, cursorTo, moveCursor } from "node:readline";
import type { REPLServer } from "node:repl";
import type { LogOutput } from "../logging/line-logger";

/** A log output that writes to the REPL's terminal, above its prompt. */
export function logsAbovePrompt(repl: REPLServer): LogOutput {
	const output = repl.output as NodeJS.WritableStream & { columns?: number };
	let promptShown = true;
	let closed = false;
	// Prepended: the REPL's own listener may show the next prompt before returning (an empty line).
	repl.prependListener("line", () => (promptShown = false));
	const displayPrompt = repl.displayPrompt.bind(repl);
	repl.displayPrompt = (preserveCursor?: boolean) => {
		promptShown = true;
		displayPrompt(preserveCursor);
	};
	repl.once("close", () => (closed = true));

	return {
		write(_level, line) {
			if (!promptShown || closed || !repl.terminal) {
				output.write(`${line}\n`);
				return;
			}
			const typed = repl.line;
			const prompt = repl.getPrompt();
			const cursor = repl.getCursorPos();
			// From the cursor to the start of the prompt, erase the prompt and what was typed...
			moveCursor(output, 0, -cursor.rows);
			cursorTo(output, 0);
			clearScreenDown(output);
			// ...write the line there, then both again below it.
			output.write(`${line}\n${prompt}${typed}`);
			if (repl.cursor < typed.length) {
				const width = output.columns || 80;
				const endRow = Math.floor((prompt.length + typed.length) / width);
				moveCursor(output, 0, cursor.rows - endRow);
				cursorTo(output, cursor.cols);
			}
		}
	};
}
