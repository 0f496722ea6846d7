/**
 * Starts one node: the services named in `SERVICES` (all by default) on a broker configured from the
 * environment. `--repl` opens Moleculer's REPL once the node runs.
 *
 * Tracing starts first, when OTEL_EXPORTER_OTLP_ENDPOINT is set (lib/tracing): its instrumentations
 * patch `http`, `pg` and `amqplib` as they are required, so the node itself (./start-node.ts, with
 * Moleculer and everything it loads) is required only afterwards. Off, nothing of the SDK is loaded.
 */
import { isStartupError } from "../lib/startup-error";
import { startTracing } from "../lib/tracing";
import { readTracingConfig } from "../lib/tracing/config";

/** Reports a failed start as one JSON line and exits 1. */
function failStart(err: unknown): never {
	// The broker's logger may not exist yet: this is the one place that writes to stderr itself.
	const message = isStartupError(err) ? err.message : `Start failed: ${(err as Error)?.stack ?? err}`;
	process.stderr.write(JSON.stringify({ timestamp: new Date().toISOString(), level: "fatal", logger: "start", message }) + "\n");
	process.exit(1);
}

try {
	startTracing(readTracingConfig(process.env));
} catch (err) {
	failStart(err);
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- after tracing started: see above
const { startNode } = require("./start-node") as typeof import("./start-node");
startNode().catch(failStart);
