/**
 * Starts one node: the services named in `SERVICES` (all by default) on a broker configured from the
 * environment. `--repl` opens Moleculer's REPL once the node runs.
 *
 * Tracing starts first, when OTEL_EXPORTER_OTLP_ENDPOINT is set (lib/tracing): its instrumentations
 * patch `http`, `pg` and `amqplib` as they are required, so the node itself (./start-node.ts, with
 * Moleculer and everything it loads) is required only afterwards. Off, nothing of the SDK is loaded.
 */
import { LOG_FORMATS, defaultLogFormat, renderLine, type LogFormat } from "../lib/logging/log-format";
import { isStartupError } from "../lib/startup-error";
import { startTracing } from "../lib/tracing";
import { readTracingConfig } from "../lib/tracing/config";

/**
 * Writes one log line of the start itself, in the node's LOG_FORMAT: the broker's logger may not
 * exist yet. A LOG_FORMAT that is not valid gets its default here; readEnvironment reports it.
 */
function writeStartLine(level: string, message: string): void {
	const terminal = process.stdout.isTTY === true;
	const asked = process.env.LOG_FORMAT?.trim() as LogFormat;
	const format = LOG_FORMATS.includes(asked) ? asked : defaultLogFormat(terminal);
	process.stderr.write(renderLine({ format, colors: format === "pretty" && terminal }, level, [message], { mod: "start" }) + "\n");
}

/** Reports a failed start as one JSON line and exits 1. */
function failStart(err: unknown): never {
	writeStartLine("fatal", isStartupError(err) ? err.message : `Start failed: ${(err as Error)?.stack ?? err}`);
	process.exit(1);
}

/** The exit code of a process ended by the signal, as shells report it (128 + its number). */
const INTERRUPTED_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Ctrl-C (or a SIGTERM) while the node starts ends the process at once, with one line: whatever was
 * under way (the first start's database creation, say) would otherwise fail because of the signal and
 * be reported as a failed start. Once the node runs, Moleculer's own handlers stop it gracefully.
 */
function interruptStart(signal: keyof typeof INTERRUPTED_EXIT_CODES): void {
	writeStartLine("info", "Start interrupted.");
	process.exit(INTERRUPTED_EXIT_CODES[signal]);
}

try {
	startTracing(readTracingConfig(process.env));
} catch (err) {
	failStart(err);
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- after tracing started: see above
const { startNode } = require("./start-node") as typeof import("./start-node");
// Registered before the broker's: this one runs first and exits.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, interruptStart);
startNode().then(() => {
	for (const signal of ["SIGINT", "SIGTERM"] as const) process.removeListener(signal, interruptStart);
}, failStart);
