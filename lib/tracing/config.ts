/**
 * The tracing variables, read apart from the rest of moleculer.config.ts because bin/start.ts needs
 * them before anything else is loaded (see lib/tracing/index.ts). Pure: no OpenTelemetry, no
 * Moleculer. `readEnvironment` reads them through here too, so a node's config shows them.
 *
 * Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT is set (and OTEL_SDK_DISABLED is not `true`), with
 * the standard OpenTelemetry meaning of each variable.
 */
import { ConfigError } from "../startup-error";

type Env = Record<string, string | undefined>;

/** How a node exports its spans; absent: tracing is off. */
export interface TracingConfig {
	/** OTEL_EXPORTER_OTLP_ENDPOINT as given, e.g. `http://collector:4318`. */
	endpoint: string;
	/** Where the spans are posted: `<endpoint>/v1/traces`, as the OTLP exporter spec says. */
	tracesUrl: string;
	/** OTEL_SERVICE_NAME, else `order-pipeline-<services>` (e.g. `order-pipeline-api-orders`). */
	serviceName: string;
	/** OTEL_BSP_SCHEDULE_DELAY: the longest a finished span waits before its batch is sent. */
	scheduleDelayMs: number;
}

/** The services of a node without SERVICES (moleculer.config.ts's SERVICE_NAMES), for the service name. */
const ALL_SERVICES = "api,orders,processor";

/** The service name a node reports: `order-pipeline-` and its services, in the order SERVICES gives them. */
export function defaultServiceName(servicesVariable: string | undefined): string {
	const raw = servicesVariable?.trim() ? servicesVariable : ALL_SERVICES;
	const services = [...new Set(raw.split(",").map(s => s.trim()).filter(Boolean))];
	return `order-pipeline-${services.join("-")}`;
}

/** Reads the tracing variables; undefined when tracing is off. A bad value stops the start. */
export function readTracingConfig(env: Env): TracingConfig | undefined {
	const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
	if (!endpoint || /^true$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? "")) return undefined;
	if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(endpoint)) {
		throw new ConfigError("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "the http:// or https:// base URL of an OTLP/HTTP receiver, e.g. http://localhost:4318");
	}
	const protocol = env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim();
	if (protocol && protocol !== "http/json" && protocol !== "http/protobuf") {
		throw new ConfigError("OTEL_EXPORTER_OTLP_PROTOCOL", protocol, "http/json (or unset): spans are sent over OTLP/HTTP as JSON, which a collector's port 4318 takes");
	}
	const delayRaw = env.OTEL_BSP_SCHEDULE_DELAY?.trim();
	const scheduleDelayMs = delayRaw ? Number(delayRaw) : 5000;
	if (!Number.isInteger(scheduleDelayMs) || scheduleDelayMs < 1 || scheduleDelayMs > 3_600_000) {
		throw new ConfigError("OTEL_BSP_SCHEDULE_DELAY", delayRaw ?? "", "an integer from 1 to 3600000 (milliseconds)");
	}
	return {
		endpoint,
		tracesUrl: `${endpoint.endsWith("/") ? endpoint : `${endpoint}/`}v1/traces`,
		serviceName: env.OTEL_SERVICE_NAME?.trim() || defaultServiceName(env.SERVICES),
		scheduleDelayMs
	};
}
