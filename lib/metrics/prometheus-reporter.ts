/**
 * Moleculer's Prometheus reporter, with its histograms written the way Prometheus reads them, and
 * the node's health on the same port: `/health/live` and `/health/ready` (lib/health), served by
 * every node, with or without the api, for Kubernetes probes.
 *
 * For a histogram with buckets and no quantiles (every business histogram), Moleculer 0.15 writes
 * the `_bucket` lines only — no `_sum` and no `_count`, so an average (`rate(x_sum) / rate(x_count)`)
 * cannot be computed — and in the order of `Object.keys`, which puts whole numbers before
 * fractions (`le="1"` before `le="0.05"`). This reporter writes those families again: buckets in
 * ascending order, `+Inf`, `_sum` and `_count`. Everything else is Moleculer's own output.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { MetricReporters, type ServiceBroker } from "moleculer";
import { answerHealthRequest } from "../health/health-endpoints";
import { nodeReadiness } from "../health/readiness";
import { nodeLiveness } from "../health/liveness";
import { listenProblem, type ListenTarget } from "../http/listen-check";

/** The variables that say where the metrics endpoint listens, for the messages about it. */
export const METRICS_LISTEN_VARIABLES = {
	portVariable: "METRICS_PORT",
	hostVariable: "METRICS_HOST",
	alternative: "or METRICS_PORT=off to serve no metrics and probes"
} as const satisfies Omit<ListenTarget, "port" | "host">;

type Labels = Record<string, unknown>;

interface HistogramSnapshot {
	labels: Labels;
	count: number;
	sum: number;
	buckets?: Record<string, number>;
}

interface StoredMetric {
	name: string;
	type: string;
	description?: string;
	unit?: string;
	buckets?: number[];
	quantiles?: number[];
	snapshot(): HistogramSnapshot[];
}

/** Moleculer's options of its Prometheus reporter, and the readiness bound of the health path. */
export interface PrometheusReporterOptions {
	port: number;
	host: string;
	path: string;
	excludes?: string[];
	/** READY_MAX_OUTBOX_LAG_S, for `/health/ready`; 0: outbox lag not checked. */
	readyMaxOutboxLagSeconds: number;
}

const Base = MetricReporters.Prometheus as unknown as new (options?: object) => {
	opts: { host?: string };
	registry: { store: Map<string, StoredMetric>; broker: ServiceBroker };
	server: Server;
	init(registry: unknown): void;
	handler(req: IncomingMessage, res: ServerResponse): void;
	generatePrometheusResponse(): string;
	labelsToStr(itemLabels: Labels, extraLabels?: Labels): string;
	formatMetricName(name: string): string;
	matchMetricName(name: string): boolean;
};

export class PrometheusReporter extends Base {
	private readonly readyMaxOutboxLagSeconds: number;
	private readonly listenTarget: ListenTarget;

	constructor(options: PrometheusReporterOptions) {
		// A copy: Moleculer merges its defaults into the object it is given, and deletes `host` from it.
		super({ ...options });
		// Moleculer drops the bind address when the port is 0 (and then listens on every
		// interface); the health details must stay on METRICS_HOST whatever the port.
		this.opts.host = options.host;
		this.readyMaxOutboxLagSeconds = options.readyMaxOutboxLagSeconds;
		this.listenTarget = { ...METRICS_LISTEN_VARIABLES, port: options.port, host: options.host };
	}

	/**
	 * Moleculer's, which listens without an `error` listener: a port taken between the start's check
	 * (lib/http/listen-check.ts) and here would crash the process with a raw stack.
	 */
	init(registry: unknown): void {
		super.init(registry);
		// Node emits a listen error on the next tick: the listener is in place by then.
		this.server.once("error", (err: NodeJS.ErrnoException) => this.registry.broker.fatal(listenProblem(this.listenTarget, err)));
	}

	/** Serves the health paths; anything else as Moleculer's reporter does (`/metrics`, else 404). */
	handler(req: IncomingMessage, res: ServerResponse): void {
		const broker = this.registry.broker;
		const readiness = () => nodeReadiness(broker, { maxOutboxLagSeconds: this.readyMaxOutboxLagSeconds }).get();
		if (answerHealthRequest(req, res, readiness, () => nodeLiveness(broker).get())) return;
		super.handler(req, res);
	}

	generatePrometheusResponse(): string {
		let text = super.generatePrometheusResponse();
		for (const metric of this.registry.store.values()) {
			if (metric.type !== "histogram" || !metric.buckets || metric.quantiles || !this.matchMetricName(metric.name)) continue;
			const name = this.formatMetricName(metric.name).replace(/[.-]/g, "_");
			const start = text.indexOf(`# HELP ${name} `);
			if (start < 0) continue;
			const end = text.indexOf("\n\n", start);
			const family = this.histogramFamily(metric, name);
			text = text.slice(0, start) + family + (end < 0 ? "\n" : text.slice(end));
		}
		return text;
	}

	/** One histogram family, without its closing blank line. */
	private histogramFamily(metric: StoredMetric, name: string): string {
		const description = metric.description ? metric.description : metric.name + (metric.unit ? ` (${metric.unit})` : "");
		const lines = [`# HELP ${name} ${description}`, `# TYPE ${name} histogram`];
		const bounds = [...(metric.buckets ?? [])].sort((a, b) => a - b);
		for (const item of metric.snapshot()) {
			for (const le of bounds) {
				lines.push(`${name}_bucket${this.labelsToStr(item.labels, { le: String(le) })} ${item.buckets?.[le] ?? 0}`);
			}
			lines.push(`${name}_bucket${this.labelsToStr(item.labels, { le: "+Inf" })} ${item.count}`);
			lines.push(`${name}_sum${this.labelsToStr(item.labels)} ${item.sum}`);
			lines.push(`${name}_count${this.labelsToStr(item.labels)} ${item.count}`);
		}
		return lines.join("\n");
	}
}
