/**
 * In the REPL, a log line never lands in the middle of what is being typed: it goes above the
 * prompt, which is drawn again with the text typed so far.
 */
import { PassThrough } from "node:stream";
import { start, type REPLServer } from "node:repl";
import { logsAbovePrompt } from "../../../../lib/repl/logs-above-prompt";

/** What a terminal shows once the escape sequences for moving and erasing are played. */
function screen(written: string): string[] {
	const rows: string[] = [""];
	let row = 0;
	let col = 0;
	const put = (ch: string) => {
		const line = rows[row].padEnd(col);
		rows[row] = line.slice(0, col) + ch + line.slice(col + 1);
		col++;
	};
	for (let i = 0; i < written.length; i++) {
		const ch = written[i];
		if (ch === "\u001b") {
			const match = /^\u001b\[(\d*)(;\d*)?([A-Za-z])/.exec(written.slice(i));
			if (!match) continue;
			i += match[0].length - 1;
			const n = match[1] === "" ? 1 : Number(match[1]);
			if (match[3] === "A") row = Math.max(0, row - n);
			else if (match[3] === "B") row += n;
			else if (match[3] === "C") col += n;
			else if (match[3] === "D") col = Math.max(0, col - n);
			else if (match[3] === "G") col = n - 1;
			else if (match[3] === "J") {
				rows[row] = rows[row].slice(0, col);
				rows.splice(row + 1);
			} else if (match[3] === "K") rows[row] = rows[row].slice(0, col);
			while (rows.length <= row) rows.push("");
		} else if (ch === "\r") col = 0;
		else if (ch === "\n") {
			row++;
			col = 0;
			while (rows.length <= row) rows.push("");
		} else put(ch);
	}
	return rows.map(r => r.trimEnd());
}

describe("Test 'logsAbovePrompt'", () => {
	let input: PassThrough;
	let written: string;
	let repl: REPLServer;
	let finishCommand: (() => void) | undefined;

	beforeEach(() => {
		input = new PassThrough();
		const output = new PassThrough();
		written = "";
		output.on("data", chunk => (written += chunk));
		repl = start({
			prompt: "orders $ ",
			input,
			output,
			terminal: true,
			// A command that runs until the test says it is done.
			eval: (_cmd, _context, _file, callback) => {
				finishCommand = () => (callback as (err: null) => void)(null);
			}
		});
	});
	afterEach(() => {
		repl.close();
	});

	it("should write a line logged while one types above the prompt, and keep what was typed", () => {
		const output = logsAbovePrompt(repl);
		input.write("call ord");

		output.write("info", "12:00:00.000 INFO  orders     Order created.");
		input.write("ers.list");

		expect(screen(written)).toEqual(["12:00:00.000 INFO  orders     Order created.", "orders $ call orders.list"]);
		expect(repl.line).toBe("call orders.list");
	});

	it("should write lines as they come while a command runs, and show the prompt once it is done", () => {
		const output = logsAbovePrompt(repl);
		input.write("dlq\r");

		output.write("info", "a line logged while the command runs");
		finishCommand?.();

		expect(screen(written).slice(-2)).toEqual(["a line logged while the command runs", "orders $"]);
		expect(written.split("orders $ ")).toHaveLength(3);
	});
});
