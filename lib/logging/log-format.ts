/**
 * The two shapes of a log line (LOG_FORMAT): `json` for machines (DESIGN §4: log collectors,
 * `grep '"correlationId":"…"'`), `pretty` for a person at a terminal. Loads nothing of Moleculer:
 * bin/start.ts writes its own lines with it before the broker exists.
 */
import { logRecord, safeStringify, type LoggerBindings } from "./json-line";
import { formatPrettyLine } from "./pretty-line";

export const LOG_FORMATS = ["pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** LOG_FORMAT when unset: pretty for a person at a terminal; JSON for a file, a pipe, a container's log, the tests. */
export function defaultLogFormat(stdoutIsTerminal: boolean): LogFormat {
	return stdoutIsTerminal ? "pretty" : "json";
}

/** How lines are written: their format, and colours (pretty at a terminal only). */
export interface LineStyle {
	format: LogFormat;
	colors: boolean;
}

/** One log call as one line (a pretty one may be followed by an error's stack, at debug and trace). */
export function renderLine(style: LineStyle, level: string, args: unknown[], bindings: LoggerBindings = {}): string {
	const record = logRecord(level, args, bindings);
	return style.format === "json" ? safeStringify(record) : formatPrettyLine(record, style.colors);
}
