import { ConfigError } from "../../../../lib/startup-error";
import { defaultServiceName, readTracingConfig } from "../../../../lib/tracing/config";

describe("Test 'readTracingConfig'", () => {
	it("should leave tracing off without OTEL_EXPORTER_OTLP_ENDPOINT, or with OTEL_SDK_DISABLED=true", () => {
		expect(readTracingConfig({})).toBeUndefined();
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " })).toBeUndefined();
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" })).toBeUndefined();
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "false" })).toBeDefined();
	});

	it("should send to <endpoint>/v1/traces, as the OTLP exporter spec says of the base endpoint", () => {
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })?.tracesUrl).toBe("http://collector:4318/v1/traces");
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example.com/" })?.tracesUrl).toBe("https://otel.example.com/v1/traces");
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example.com/tenant-1" })?.tracesUrl).toBe("https://otel.example.com/tenant-1/v1/traces");
	});

	it("should name the service after the node's services unless OTEL_SERVICE_NAME names it", () => {
		const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };
		expect(readTracingConfig(endpoint)).toEqual({
			endpoint: "http://collector:4318",
			tracesUrl: "http://collector:4318/v1/traces",
			serviceName: "order-pipeline-api-orders-processor",
			scheduleDelayMs: 5000
		});
		expect(readTracingConfig({ ...endpoint, SERVICES: " api, orders ,api" })?.serviceName).toBe("order-pipeline-api-orders");
		expect(readTracingConfig({ ...endpoint, SERVICES: "processor", OTEL_SERVICE_NAME: "shop-processor" })?.serviceName).toBe("shop-processor");
		expect(defaultServiceName(undefined)).toBe("order-pipeline-api-orders-processor");
	});

	it("should read the batch delay, in milliseconds", () => {
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_BSP_SCHEDULE_DELAY: "200" })?.scheduleDelayMs).toBe(200);
		expect(() => readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_BSP_SCHEDULE_DELAY: "soon" })).toThrow(
			/OTEL_BSP_SCHEDULE_DELAY='soon' is not valid: expected an integer from 1/
		);
	});

	it("should refuse an endpoint that is not an http(s) URL, and gRPC, which this exporter does not speak", () => {
		expect(() => readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4317" })).toThrow(ConfigError);
		expect(() => readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4317" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT='collector:4317'/);
		expect(() => readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL='grpc'/);
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).toBeDefined();
		// Whatever it says: a collector's OTLP/HTTP port takes JSON as well as protobuf.
		expect(readTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" })).toBeDefined();
	});
});
