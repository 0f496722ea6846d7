/**
 * A test OTLP/HTTP receiver: takes `POST /v1/traces` (JSON, as the product's exporter sends it) and
 * keeps every span with the service that sent it.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** OTLP's span kinds (the JSON encoding sends the number). */
export const OtlpSpanKind = { Internal: 1, Server: 2, Client: 3, Producer: 4, Consumer: 5 } as const;

export interface ReceivedSpan {
	service: string;
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	name: string;
	kind: number;
	attributes: Record<string, unknown>;
}

interface OtlpValue {
	stringValue?: string;
	intValue?: string | number;
	boolValue?: boolean;
	doubleValue?: number;
}
type OtlpAttributes = Array<{ key: string; value: OtlpValue }> | undefined;

function attributesOf(list: OtlpAttributes): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const { key, value } of list ?? []) {
		out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue));
	}
	return out;
}

export class OtlpReceiver {
	readonly spans: ReceivedSpan[] = [];
	/** Content types of the export requests, and the paths they were posted to. */
	readonly requests: Array<{ path: string; contentType: string }> = [];
	private server?: Server;

	/** Listens on a free loopback port; resolves with the endpoint to give OTEL_EXPORTER_OTLP_ENDPOINT. */
	async start(): Promise<string> {
		this.server = createServer((req, res) => {
			const chunks: Buffer[] = [];
			req.on("data", chunk => chunks.push(chunk));
			req.on("end", () => {
				this.requests.push({ path: req.url ?? "", contentType: req.headers["content-type"] ?? "" });
				if (req.method === "POST" && req.url === "/v1/traces") this.take(Buffer.concat(chunks).toString("utf8"));
				res.writeHead(200, { "Content-Type": "application/json" });
				res.end("{}");
			});
		});
		await new Promise<void>(resolve => this.server!.listen(0, "127.0.0.1", resolve));
		return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
	}

	async stop(): Promise<void> {
		await new Promise<void>(resolve => (this.server ? this.server.close(() => resolve()) : resolve()));
	}

	/** The spans of one trace. */
	trace(traceId: string): ReceivedSpan[] {
		return this.spans.filter(span => span.traceId === traceId);
	}

	private take(body: string): void {
		const request = JSON.parse(body) as {
			resourceSpans?: Array<{
				resource?: { attributes?: OtlpAttributes };
				scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: OtlpAttributes }> }>;
			}>;
		};
		for (const resourceSpans of request.resourceSpans ?? []) {
			const service = String(attributesOf(resourceSpans.resource?.attributes)["service.name"]);
			for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
				for (const span of scopeSpans.spans ?? []) {
					this.spans.push({
						service,
						traceId: span.traceId,
						spanId: span.spanId,
						parentSpanId: span.parentSpanId || undefined,
						name: span.name,
						kind: span.kind,
						attributes: attributesOf(span.attributes)
					});
				}
			}
		}
	}
}
