/**
 * README's configuration table is the user's contract: every default it states as one plain value
 * (a number or a word, perhaps glossed in brackets) is what `readEnvironment({})` yields, and
 * moleculer.config.ts's header table lists the same variables.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readEnvironment, type AppConfig } from "../../moleculer.config";

const ROOT = join(__dirname, "..", "..");

/** The variables of a table's first column (`A`, `B` in one cell counts as two), with the default cell. */
interface Row {
	variables: string[];
	defaultCell: string;
}

/** The `| variable | meaning | default |` table under README's `## Configuration`. */
function readmeRows(): Row[] {
	const readme = readFileSync(join(ROOT, "README.md"), "utf8");
	const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? "";
	const lines = section.split("\n");
	const header = lines.findIndex(line => /^\| variable \| meaning \| default \|$/.test(line.trim()));
	expect(header).toBeGreaterThanOrEqual(0);
	const rows: Row[] = [];
	for (const line of lines.slice(header + 2)) {
		if (!line.startsWith("|")) break;
		const cells = line.trim().slice(1, -1).split(" | ");
		expect(cells).toHaveLength(3);
		const variables = cells[0].split(",").map(v => v.trim().replace(/`/g, ""));
		rows.push({ variables, defaultCell: cells[2].trim() });
	}
	return rows;
}

/** The variables of moleculer.config.ts's header comment table. */
function headerVariables(): string[] {
	const source = readFileSync(join(ROOT, "moleculer.config.ts"), "utf8");
	const comment = source.slice(0, source.indexOf("*/"));
	return comment
		.split("\n")
		.map(line => /^ \* \| ([A-Z0-9_, ]+?)\s*\|/.exec(line)?.[1])
		.filter((cell): cell is string => cell !== undefined && cell !== "variable")
		.flatMap(cell => cell.split(",").map(v => v.trim()));
}

/** Where each variable with a plain default lands in the config read from an empty environment. */
const FIELD: Record<string, (config: AppConfig) => unknown> = {
	PORT: c => c.port,
	HOST: c => c.host,
	METRICS_PORT: c => c.metricsPort,
	METRICS_HOST: c => c.metricsHost,
	DATA_DIR: c => c.dataDir,
	DEMO_STOCK: c => c.demoStock,
	CONSUMER_PREFETCH: c => c.consumerPrefetch,
	REQUEST_PREFETCH: c => c.requestPrefetch,
	QUEUE_TYPE: c => c.queueType,
	PROCESSOR_BATCH_SIZE: c => c.processorBatchSize,
	CREATE_CONCURRENCY: c => c.createConcurrency,
	CREATE_QUEUE_SIZE: c => c.createQueueSize,
	ORDER_TIMEOUT_MS: c => c.orderTimeoutMs,
	READY_MAX_OUTBOX_LAG_S: c => c.readyMaxOutboxLagSeconds,
	JWT_CLOCK_TOLERANCE_S: c => c.jwt.clockToleranceSeconds,
	JWT_MAX_TTL_S: c => c.jwt.maxTokenLifetimeSeconds,
	RATE_LIMIT_PER_MINUTE: c => c.rateLimitPerMinute,
	OUTBOX_RETENTION_MS: c => c.outboxRetentionMs,
	INBOX_RETENTION_MS: c => c.inboxRetentionMs,
	IDEMPOTENCY_KEY_TTL_MS: c => c.idempotencyKeyTtlMs,
	RETRY_MAX_ATTEMPTS: c => c.delivery.maxAttempts,
	RETRY_BASE_DELAY_MS: c => c.delivery.baseDelayMs,
	RETRY_MAX_DELAY_MS: c => c.delivery.maxDelayMs,
	LOG_LEVEL: c => c.logLevel
};

/**
 * Read with tracing on (no span leaves: nothing is started here), since without an endpoint the
 * tracing variables are not read at all.
 */
const TRACING_FIELD: Record<string, (config: AppConfig) => unknown> = {
	OTEL_BSP_SCHEDULE_DELAY: c => c.tracing?.scheduleDelayMs
};

/** Defaults told in words (unset, empty, made at start, depends on the terminal): checked by other tests. */
const PROSE = [
	"TRANSPORTER",
	"SERVICES",
	"NODEID",
	"NAMESPACE",
	"CLUSTER_SECRET",
	"CLUSTER_SECRET_PREVIOUS",
	"CORS_ORIGINS",
	"ORDERS_DATABASE_URL",
	"PROCESSOR_DATABASE_URL",
	"JWT_SECRET",
	"JWT_JWKS_URL",
	"JWT_ISSUER",
	"JWT_AUDIENCE",
	"RATE_LIMIT_DATABASE_URL",
	"TRUSTED_PROXIES",
	"LOG_FORMAT",
	"FAULT_POINTS",
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_SERVICE_NAME"
];

/** A default cell that is one value in backticks, perhaps followed by a gloss in brackets: that value. */
function plainValue(cell: string): string | undefined {
	return /^`([\w./:-]+)`(?: \([^)]*\))?$/.exec(cell)?.[1];
}

/** How a config value is written in the README's default column. */
function asWritten(value: unknown): string {
	return typeof value === "string" ? value : JSON.stringify(value);
}

describe("README's configuration table", () => {
	const rows = readmeRows();
	const variables = rows.flatMap(row => row.variables);

	it("should have every variable classified: a plain default mapped to its config field, or prose", () => {
		const classified = [...Object.keys(FIELD), ...Object.keys(TRACING_FIELD), ...PROSE];
		expect([...variables].sort()).toEqual([...classified].sort());
	});

	it("should state as a plain value exactly the defaults mapped to a field", () => {
		const plain = rows.filter(row => plainValue(row.defaultCell) !== undefined).flatMap(row => row.variables);
		expect(plain.sort()).toEqual([...Object.keys(FIELD), ...Object.keys(TRACING_FIELD)].sort());
	});

	it("should state the defaults readEnvironment({}) yields", () => {
		const config = readEnvironment({}, false);
		const tracing = readEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, false);
		for (const row of rows) {
			const stated = plainValue(row.defaultCell);
			if (stated === undefined) continue;
			for (const variable of row.variables) {
				const actual = FIELD[variable] ? FIELD[variable](config) : TRACING_FIELD[variable](tracing);
				expect({ variable, default: asWritten(actual) }).toEqual({ variable, default: stated });
			}
		}
	});

	it("should list the same variables as moleculer.config.ts's header table", () => {
		expect([...new Set(headerVariables())].sort()).toEqual([...new Set(variables)].sort());
	});
});
