/**
 * OpenTelemetry tracing of one node: on when OTEL_EXPORTER_OTLP_ENDPOINT is set, completely off
 * otherwise.
 *
 * bin/start.ts calls {@link startTracing} before it requires anything else: the instrumentations
 * patch `http`, `pg` and `amqplib` when they are required, so these must not be loaded yet. Off, this
 * module loads nothing: the SDK (./sdk.ts) is required only when tracing starts, no module is
 * patched, no provider is registered, and the services' calls to the OpenTelemetry API are no-ops.
 *
 * What is traced, and how the context crosses the outbox and RabbitMQ: docs/tracing.md.
 */
import type { TracingConfig } from "./config";
import type { RunningSdk } from "./sdk";

let running: RunningSdk | undefined;

/** How long the stop may wait for the last spans to be sent. */
const FLUSH_TIMEOUT_MS = 5000;

/** Starts tracing with `config`; does nothing when it is undefined (tracing off). Returns whether it started. */
export function startTracing(config: TracingConfig | undefined): boolean {
	if (!config || running) return Boolean(running);
	// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing is on
	const { startSdk } = require("./sdk") as typeof import("./sdk");
	running = startSdk(config);
	return true;
}

/** True once {@link startTracing} started the SDK in this process. */
export function isTracing(): boolean {
	return running !== undefined;
}

/**
 * Sends the spans still buffered and stops the SDK; waits at most a few seconds for a collector that
 * does not answer. Does nothing when tracing is off.
 */
export async function stopTracing(): Promise<void> {
	const sdk = running;
	running = undefined;
	if (!sdk) return;
	let timer: NodeJS.Timeout | undefined;
	await Promise.race([
		sdk.shutdown().catch(() => undefined),
		new Promise<void>(resolve => {
			timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
			timer.unref();
		})
	]);
	clearTimeout(timer);
}

/**
 * Names the HTTP request being served after its route template (`POST /api/orders/:id`), as
 * `http.route`; a no-op when tracing is off.
 */
export function setHttpRoute(route: string | undefined): void {
	if (running && route) running.setHttpRoute(route);
}
