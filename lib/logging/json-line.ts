/**
 * A log entry as one JSON object per line (LOG_FORMAT=json, the machines' format):
 * `timestamp`, `level`, `logger` (service or module), `message`, `nodeID`, and every field of the
 * context objects passed to the log call (`correlationId`, `orderId`, …). Errors become
 * `{ error: { name, message, code, type } }`, with the stack only at debug level and below. A line
 * logged inside a recorded span (tracing on, lib/tracing) carries its `traceId` and `spanId`.
 */
import { activeTraceIds } from "../tracing/context";

/** What Moleculer tells a logger about who logs: node, namespace, module, service. */
export interface LoggerBindings {
	nodeID?: string;
	ns?: string;
	mod?: string;
	svc?: string;
}

const STACK_LEVELS = new Set(["debug", "trace"]);

/** One log entry as fields: those of the JSON line, in its order. */
export type LogRecord = Record<string, unknown> & { timestamp: string; level: string; logger: string; message: string };

export function formatJsonLine(level: string, args: unknown[], bindings: LoggerBindings = {}): string {
	return safeStringify(logRecord(level, args, bindings));
}

/** The fields of one log call: its words as `message`, its context objects' fields, its error. */
export function logRecord(level: string, args: unknown[], bindings: LoggerBindings = {}): LogRecord {
	const record: LogRecord = {
		timestamp: new Date().toISOString(),
		level,
		logger: bindings.svc ?? bindings.mod ?? "app",
		message: ""
	};
	const words: string[] = [];
	for (const arg of args) {
		if (arg instanceof Error) {
			record.error = describeError(arg, STACK_LEVELS.has(level));
			if (words.length === 0) words.push(arg.message);
		} else if (arg !== null && typeof arg === "object" && !Array.isArray(arg)) {
			for (const [key, value] of Object.entries(arg)) {
				record[key] = value instanceof Error ? describeError(value, STACK_LEVELS.has(level)) : value;
			}
		} else if (arg !== undefined) {
			words.push(typeof arg === "string" ? arg : safeStringify(arg));
		}
	}
	record.message = words.join(" ");
	if (bindings.nodeID) record.nodeID = bindings.nodeID;
	if (bindings.ns) record.namespace = bindings.ns;
	const ids = activeTraceIds();
	if (ids) Object.assign(record, ids);
	return record;
}

function describeError(err: Error, withStack: boolean): Record<string, unknown> {
	const e = err as Error & { code?: unknown; type?: unknown };
	return {
		name: e.name,
		message: e.message,
		...(e.code !== undefined ? { code: e.code } : {}),
		...(e.type !== undefined ? { type: e.type } : {}),
		...(withStack && e.stack ? { stack: e.stack } : {})
	};
}

/** JSON text of any value: a bigint as its digits, a circular reference as "[circular]". */
export function safeStringify(value: unknown): string {
	const seen = new WeakSet<object>();
	return JSON.stringify(value, (_key, v) => {
		if (typeof v === "bigint") return v.toString();
		if (v !== null && typeof v === "object") {
			if (seen.has(v)) return "[circular]";
			seen.add(v);
		}
		return v;
	});
}
