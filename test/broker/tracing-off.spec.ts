/**
 * Tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT), as `npm start` runs by default: starting it and
 * running an order loads nothing of the SDK or the instrumentations, patches nothing, registers
 * nothing with the OpenTelemetry API, stores no trace context, and logs no trace ids.
 */
import http from "node:http";
import { trace } from "@opentelemetry/api";
import type { Sequelize } from "sequelize";
import { readEnvironment } from "../../moleculer.config";
import { startTracing, isTracing } from "../../lib/tracing";
import { readTracingConfig } from "../../lib/tracing/config";
import { waitFor } from "../support/services";
import { startSystem, type RunningSystem } from "../support/system";

// Any of these loaded is a failure: each records its name when something requires it.
const mockLoaded: string[] = [];
jest.mock("@opentelemetry/sdk-trace", () => (mockLoaded.push("sdk-trace"), jest.requireActual("@opentelemetry/sdk-trace")));
jest.mock("@opentelemetry/context-async-hooks", () => (mockLoaded.push("context-async-hooks"), jest.requireActual("@opentelemetry/context-async-hooks")));
jest.mock("@opentelemetry/exporter-trace-otlp-http", () => (mockLoaded.push("exporter"), jest.requireActual("@opentelemetry/exporter-trace-otlp-http")));
jest.mock("@opentelemetry/instrumentation", () => (mockLoaded.push("instrumentation"), jest.requireActual("@opentelemetry/instrumentation")));
jest.mock("@opentelemetry/instrumentation-http", () => (mockLoaded.push("instrumentation-http"), jest.requireActual("@opentelemetry/instrumentation-http")));
jest.mock("@opentelemetry/instrumentation-pg", () => (mockLoaded.push("instrumentation-pg"), jest.requireActual("@opentelemetry/instrumentation-pg")));
jest.mock("@opentelemetry/instrumentation-amqplib", () => (mockLoaded.push("instrumentation-amqplib"), jest.requireActual("@opentelemetry/instrumentation-amqplib")));
jest.mock("../../lib/tracing/sdk", () => (mockLoaded.push("lib/tracing/sdk"), jest.requireActual("../../lib/tracing/sdk")));

/** Every line the broker's logger wrote (to stdout, and warnings and worse to stderr). */
const printed: string[] = [];

describe("Tracing off", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		for (const stream of [process.stdout, process.stderr]) {
			jest.spyOn(stream, "write").mockImplementation(((chunk: unknown) => (printed.push(String(chunk)), true)) as never);
		}
		// What bin/start.ts does before it loads the node.
		expect(startTracing(readTracingConfig({}))).toBe(false);
		system = await startSystem({ env: { LOG_LEVEL: "info", LOG_FORMAT: "json" } });
	});
	afterAll(async () => {
		await system?.stop();
		jest.restoreAllMocks();
	});

	it("should run an order without loading, patching or registering anything of OpenTelemetry, and log no trace ids", async () => {
		expect(readEnvironment({}).tracing).toBeUndefined();
		const res = await system.http().post("/api/orders").send({ customerId: "c-1", items: [{ sku: "SKU-0004", quantity: 1, unitPrice: 4 }], currency: "EUR" });
		expect(res.status).toBe(201);
		await waitFor("the order to complete", async () => (await system.http().get(`/api/orders/${res.body.id}`)).body.status === "completed");

		expect(isTracing()).toBe(false);
		expect(mockLoaded).toEqual([]);
		expect(system.broker.middlewares.list.map(mw => mw.name)).not.toContain("OpenTelemetryTracing");
		// Nothing is patched: an instrumented function carries shimmer's `__wrapped`.
		expect((http.request as { __wrapped?: unknown }).__wrapped).toBeUndefined();
		expect((http.Server.prototype.emit as { __wrapped?: unknown }).__wrapped).toBeUndefined();
		// Nothing is registered with the API: no tracer provider, context manager or propagator.
		const registered = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[Symbol.for("opentelemetry.js.api.1")];
		expect(registered?.trace ?? registered?.context ?? registered?.propagation).toBeUndefined();
		expect(trace.getTracer("x").startSpan("y").isRecording()).toBe(false);

		const rows = await (system.service("orders") as unknown as { db(): Sequelize })
			.db()
			.query<{ trace_context: unknown }>("SELECT trace_context FROM outbox_events", { type: "SELECT" as never });
		expect(rows.length).toBeGreaterThan(0);
		expect(rows.every(r => r.trace_context === null)).toBe(true);

		const lines = printed.filter(l => l.startsWith("{"));
		expect(lines.some(l => l.includes('"message":"Order created."'))).toBe(true);
		expect(lines.filter(l => /traceId|spanId/.test(l))).toEqual([]);
	});
});
