/**
 * The node's Moleculer logger: one line per entry, JSON or pretty (LOG_FORMAT, ./log-format.ts),
 * written to stdout — warnings and worse to stderr, as Moleculer's Console logger does. Where the
 * lines go can change while the node runs: the REPL writes them above its prompt
 * (lib/repl/logs-above-prompt.ts).
 */
import { Loggers, type LogLevels } from "moleculer";
import { renderLine, type LineStyle } from "./log-format";
import type { LoggerBindings } from "./json-line";

/** Where finished lines go. */
export interface LogOutput {
	write(level: string, line: string): void;
}

/** Warnings, errors and fatal lines on stderr, the rest on stdout. */
export const consoleOutput: LogOutput = {
	write(level, line) {
		(level === "fatal" || level === "error" || level === "warn" ? process.stderr : process.stdout).write(`${line}\n`);
	}
};

export interface LineLoggerOptions extends LineStyle {
	level: LogLevels;
}

const LEVELS = Loggers.Base.LEVELS;

export class LineLogger extends Loggers.Base<{ level: LogLevels }> {
	/** Where lines go; replaced while the REPL is open. */
	output: LogOutput = consoleOutput;
	private readonly style: LineStyle;

	constructor(options: LineLoggerOptions) {
		super({ level: options.level });
		this.style = { format: options.format, colors: options.colors };
	}

	getLogHandler(bindings: LoggerBindings & { mod: string }): ((level: LogLevels, args: unknown[]) => void) | null {
		const level = this.getLogLevel(bindings.mod);
		if (!level) return null;
		const most = LEVELS.indexOf(level);
		return (type, args) => {
			if (LEVELS.indexOf(type) > most) return;
			this.output.write(type, renderLine(this.style, type, args, bindings));
		};
	}
}
