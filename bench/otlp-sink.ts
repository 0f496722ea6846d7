/**
 * A throwaway OTLP/HTTP receiver for `BENCH_TRACING=1`: the nodes export their spans to it as they
 * would to a collector, and it only counts them (requests, spans, bytes) and answers 200.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface OtlpSinkStats {
	requests: number;
	spans: number;
	bytes: number;
}

export interface OtlpSink {
	/** The value of OTEL_EXPORTER_OTLP_ENDPOINT for the nodes. */
	endpoint: string;
	stats(): OtlpSinkStats;
	close(): Promise<void>;
}

/** Counts the spans of an OTLP JSON export request without building more than JSON.parse does. */
function countSpans(body: string): number {
	let spans = 0;
	try {
		const request = JSON.parse(body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: unknown[] }> }> };
		for (const r of request.resourceSpans ?? []) for (const s of r.scopeSpans ?? []) spans += s.spans?.length ?? 0;
	} catch {
		/* not JSON: counted as bytes only */
	}
	return spans;
}

export async function startOtlpSink(): Promise<OtlpSink> {
	const stats: OtlpSinkStats = { requests: 0, spans: 0, bytes: 0 };
	const server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", chunk => chunks.push(chunk));
		req.on("end", () => {
			const body = Buffer.concat(chunks);
			stats.requests++;
			stats.bytes += body.length;
			if (req.url === "/v1/traces") stats.spans += countSpans(body.toString("utf8"));
			res.writeHead(200, { "Content-Type": "application/json" });
			res.end("{}");
		});
	});
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	return {
		endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		stats: () => ({ ...stats }),
		close: () =>
			new Promise<void>(resolve => {
				server.closeAllConnections();
				server.close(() => resolve());
			})
	};
}
