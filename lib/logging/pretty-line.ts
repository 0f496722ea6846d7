/**
 * A log entry as a person reads it at a terminal (LOG_FORMAT=pretty): one line of local time,
 * level, logger and message, then the context as `key=value` and the error's message last. The
 * node id and namespace are left out: a terminal shows one node. An error's stack (debug and trace
 * only, as in JSON) follows on its own lines. Colours only when asked (stdout is a terminal).
 */
import { safeStringify, type LogRecord } from "./json-line";

/** Fields every line shows in its own place, or leaves out. */
const PLACED = new Set(["timestamp", "level", "logger", "message", "error", "nodeID", "namespace"]);

/** Width of the logger column: the longest module names (`transporter`, `deadLetters`) overflow it, no more. */
const LOGGER_WIDTH = 10;

const LEVEL_COLOURS: Record<string, string> = {
	fatal: "\u001b[1;41;97m",
	error: "\u001b[31m",
	warn: "\u001b[33m",
	info: "\u001b[32m",
	debug: "\u001b[35m",
	trace: "\u001b[90m"
};
const DIM = "\u001b[2m";
const RESET = "\u001b[0m";

export function formatPrettyLine(record: LogRecord, colors: boolean): string {
	const paint = (code: string | undefined, text: string) => (colors && code ? `${code}${text}${RESET}` : text);
	const time = localTime(new Date(record.timestamp));
	const level = record.level.toUpperCase().padEnd(5);
	const parts = [paint(DIM, time), paint(LEVEL_COLOURS[record.level], level), paint(DIM, record.logger.padEnd(LOGGER_WIDTH)), record.message];
	for (const [key, value] of Object.entries(record)) {
		if (PLACED.has(key) || value === undefined) continue;
		parts.push(`${paint(DIM, `${key}=`)}${valueText(value)}`);
	}
	const error = record.error as { name?: string; message?: string; stack?: string } | undefined;
	if (error) {
		// The message is often the error's own: then it is not said twice.
		if (error.message && error.message !== record.message) parts.push(`${paint(DIM, "error=")}${valueText(error.message)}`);
	}
	const line = parts.filter(part => part !== "").join(" ");
	return error?.stack ? `${line}\n${indent(error.stack)}` : line;
}

/** `HH:MM:SS.mmm` in local time: the day is today's at a terminal. */
function localTime(at: Date): string {
	const two = (n: number) => String(n).padStart(2, "0");
	return `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}.${String(at.getMilliseconds()).padStart(3, "0")}`;
}

/** A value as it reads after `key=`: a plain word as is, anything else as JSON. */
function valueText(value: unknown): string {
	if (typeof value === "string") return /^[^\s"'=]+$/.test(value) ? value : JSON.stringify(value);
	if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
	return safeStringify(value);
}

function indent(text: string): string {
	return text
		.split("\n")
		.map(line => `    ${line.trim()}`)
		.join("\n");
}
