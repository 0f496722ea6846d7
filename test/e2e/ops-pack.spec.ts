/**
 * The operations pack against the running product: an `api,orders` node and a `processor` node
 * over the real RabbitMQ and PostgreSQL, each serving /metrics.
 *
 * - Every metric the alerting rules (ops/prometheus/alerts.yml) and the Grafana dashboard read is
 *   on a live /metrics page, once orders have completed and failed and an event was dead-lettered.
 * - A real Prometheus (Debian's /usr/bin/prometheus, or PROMETHEUS_BIN) scrapes both nodes every
 *   second with the rules loaded: it counts exactly the orders this test made, evaluates every rule
 *   and every dashboard query without an error, fires DeadLettersArriving for the dead letters and
 *   BusPacketsRejected for the one not signed with the cluster key, and nothing else. Without the
 *   binary that test is reported as not run — except under CI=true
 *   (.ci/run installs it), where it fails, as scripts/test.js does for missing services.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "./support/cluster";
import { LOCAL_CLUSTER_SECRET, apiFetch, freePort, waitFor } from "../support/services";
import { clusterKeys, signPacket } from "../../lib/transport/packet-signing";
import { ALERTS_FILE, PROMETHEUS_SYNTHESIZED, dashboardQueries, exposedMetricNames, loadAlertRules, metricsUsed, withGrafanaVariables } from "../support/ops-pack";

const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
const havePrometheus = existsSync(PROMETHEUS_BIN);
const underCi = process.env.CI === "true";
const MISSING = `${PROMETHEUS_BIN} is missing (Debian: apt-get install prometheus; .ci/run installs it)`;
if (!havePrometheus && !underCi) console.warn(`Not run: the Prometheus test of test/e2e/ops-pack.spec.ts: ${MISSING}.`);
const withPrometheus = havePrometheus || underCi ? it : it.skip;

/** The orders this file makes, and how each must end. */
const ORDERS = [
	{ sku: "SKU-0007", status: "completed" },
	{ sku: "SKU-0007", status: "completed" },
	{ sku: "SKU-NOPE", status: "failed" }
];

interface PrometheusServer {
	url: string;
	child: ChildProcess;
	output(): string;
	stop(): Promise<void>;
}

/** Prometheus scraping the two nodes every second, with the alerting rules, on a free port and a temporary storage. */
async function startPrometheus(targets: { front: string; processor: string }): Promise<PrometheusServer> {
	const dir = mkdtempSync(join(tmpdir(), "ops-pack-prometheus-"));
	const port = await freePort();
	const config = {
		global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
		rule_files: [ALERTS_FILE],
		scrape_configs: [
			{
				job_name: "order-pipeline",
				static_configs: [
					{ targets: [targets.front], labels: { services: "api,orders" } },
					{ targets: [targets.processor], labels: { services: "processor" } }
				]
			}
		]
	};
	// JSON is YAML.
	writeFileSync(join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));
	const child = spawn(
		PROMETHEUS_BIN,
		[`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
		{ stdio: ["ignore", "pipe", "pipe"] }
	);
	let output = "";
	child.stdout?.on("data", chunk => (output += chunk));
	child.stderr?.on("data", chunk => (output += chunk));
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	const server: PrometheusServer = {
		url: `http://127.0.0.1:${port}`,
		child,
		output: () => output,
		async stop() {
			if (child.exitCode === null && child.signalCode === null) {
				child.kill("SIGTERM");
				await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 5000))]);
				if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
			}
			rmSync(dir, { recursive: true, force: true });
		}
	};
	await waitFor("Prometheus to be ready", async () => child.exitCode === null && (await fetch(`${server.url}/-/ready`)).status === 200, 30_000, 100).catch(async err => {
		await server.stop();
		throw new Error(`${err.message}\n--- prometheus ---\n${output}`);
	});
	return server;
}

interface Sample {
	metric: Record<string, string>;
	value: [number, string];
}

async function query(prometheus: PrometheusServer, expr: string): Promise<Sample[]> {
	const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
	const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
	if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
	return body.data!.resultType === "vector" ? body.data!.result : [];
}

describe("The operations pack against a live cluster", () => {
	const cluster = new Cluster();
	const metricsUrls: string[] = [];
	let prometheus: PrometheusServer | undefined;
	const madeOrders: string[] = [];

	const metricsPages = () => Promise.all(metricsUrls.map(async url => (await fetch(url)).text()));

	beforeAll(async () => {
		const [frontMetrics, processorMetrics] = [await freePort(), await freePort()];
		metricsUrls.push(`http://127.0.0.1:${frontMetrics}/metrics`, `http://127.0.0.1:${processorMetrics}/metrics`);
		await cluster.setUp();
		await cluster.startFront({ METRICS_PORT: String(frontMetrics) });
		await cluster.startProcessor({ METRICS_PORT: String(processorMetrics) });
		if (havePrometheus) prometheus = await startPrometheus({ front: `127.0.0.1:${frontMetrics}`, processor: `127.0.0.1:${processorMetrics}` });

		for (const { sku } of ORDERS) madeOrders.push((await cluster.post([{ sku, quantity: 1, unitPrice: 2.5 }])).id);
		const statuses = await cluster.allFinal(madeOrders);
		expect(madeOrders.map(id => statuses.get(id))).toEqual(ORDERS.map(order => order.status));

		// Two order.created the processor must refuse, each dead-lettered at once: one signed with the
		// cluster key but with no order in it (validation), and one not signed at all (signature,
		// counted in bus_packets_rejected_total).
		const channel = await cluster.channel();
		const notAnOrder = () => {
			const packet = { ver: "5", sender: "ops-pack-e2e", id: randomUUID(), event: "order.created", data: { note: "ops-pack e2e: not an order" }, groups: ["processor"], broadcast: false, meta: {}, level: 1, tracing: false };
			return { id: packet.id, body: Buffer.from(JSON.stringify(packet)) };
		};
		const invalid = notAnOrder();
		channel.sendToQueue(cluster.queueName("order.created"), signPacket(clusterKeys(LOCAL_CLUSTER_SECRET), "EVENT", invalid.body, Date.now()), { persistent: true, messageId: invalid.id });
		const unsigned = notAnOrder();
		channel.sendToQueue(cluster.queueName("order.created"), unsigned.body, { persistent: true, messageId: unsigned.id });
		await channel.close();
		await waitFor(
			"the refused order.created events among the dead letters",
			async () => {
				const res = await apiFetch(`${cluster.baseUrl}/api/admin/dead-letters?event=order.created`);
				return ((await res.json()) as { count: number }).count === 2;
			},
			30_000,
			200
		);
	});

	afterAll(async () => {
		await prometheus?.stop();
		await cluster.tearDown();
	});

	it("should answer the Kubernetes probes on each node's metrics port, the processor's (no api) included", async () => {
		const [front, processor] = metricsUrls.map(url => url.replace(/\/metrics$/, ""));
		for (const base of [front, processor]) {
			const live = await fetch(`${base}/health/live`);
			expect([live.status, await live.json()]).toEqual([200, { status: "ok" }]);
		}
		const processorReady = await fetch(`${processor}/health/ready`);
		expect(processorReady.status).toBe(200);
		expect(((await processorReady.json()) as { checks: object }).checks).toEqual({ processorDatabase: "ok", processorOutbox: "ok", broker: "ok" });
		const frontReady = await fetch(`${front}/health/ready`);
		expect(frontReady.status).toBe(200);
		expect(((await frontReady.json()) as { checks: object }).checks).toEqual({ ordersDatabase: "ok", ordersOutbox: "ok", broker: "ok" });
	});

	it("should serve every metric the rules and the dashboard read on a node's /metrics", async () => {
		const used = metricsUsed();
		const wanted = [...used.keys()].filter(name => !PROMETHEUS_SYNTHESIZED.has(name));
		expect(wanted.length).toBeGreaterThan(10);
		// Gauges sampled on a timer (outbox, dead-letter depth) may take a moment to appear.
		let missing: string[] = [];
		await waitFor(
			"every metric on /metrics",
			async () => {
				const exposed = new Set((await metricsPages()).flatMap(page => [...exposedMetricNames(page)]));
				missing = wanted.filter(name => !exposed.has(name));
				return missing.length === 0;
			},
			15_000,
			500
		).catch(() => {
			throw new Error(`Not on the /metrics of either node:\n${missing.map(name => `- ${name} (read by ${used.get(name)!.join(", ")})`).join("\n")}`);
		});
	});

	it("should make order_saga_duration_seconds' buckets reach above SagaDurationHigh's threshold", async () => {
		const rule = loadAlertRules().find(r => r.alert === "SagaDurationHigh")!;
		const threshold = Number(/>\s*([0-9.]+)\s*$/.exec(rule.expr.trim())?.[1]);
		expect(threshold).toBeGreaterThan(0);
		const bounds = (await metricsPages())
			.flatMap(page => [...page.matchAll(/^order_saga_duration_seconds_bucket\{[^}]*le="([^"]+)"/gm)].map(m => Number(m[1])))
			.filter(Number.isFinite);
		// histogram_quantile() never reports more than the largest finite bucket.
		expect(bounds.length).toBeGreaterThan(0);
		expect(Math.max(...bounds)).toBeGreaterThan(threshold);
	});

	withPrometheus(
		havePrometheus
			? "should count exactly these orders in Prometheus, evaluate every rule and query, and fire only DeadLettersArriving and BusPacketsRejected"
			: `should run Prometheus (${MISSING})`,
		async () => {
			if (!prometheus) throw new Error(`CI=true and ${MISSING}.`);
			const p = prometheus;

			await waitFor("Prometheus to scrape both nodes", async () => (await query(p, 'up{job="order-pipeline"} == 1')).length === 2, 30_000, 250);
			// Rules evaluated before the first scrapes saw no node at all (ServiceWithoutNodes pending):
			// only evaluations from now on count.
			const bothUpAt = Date.now();

			// Exactly the orders this test made, as a whole and by final status.
			const expectedByStatus: Record<string, number> = {};
			for (const { status } of ORDERS) expectedByStatus[status] = (expectedByStatus[status] ?? 0) + 1;
			let seen = "";
			await waitFor(
				"Prometheus to count the orders",
				async () => {
					const created = await query(p, "sum(orders_created_total)");
					const finished = await query(p, "sum by (status) (orders_finished_total)");
					const byStatus = Object.fromEntries(finished.filter(s => Number(s.value[1]) !== 0).map(s => [s.metric.status, Number(s.value[1])]));
					seen = `created ${created[0]?.value[1] ?? "(none)"}, finished ${JSON.stringify(byStatus)}`;
					return Number(created[0]?.value[1]) === ORDERS.length && JSON.stringify(byStatus, Object.keys(byStatus).sort()) === JSON.stringify(expectedByStatus, Object.keys(expectedByStatus).sort());
				},
				30_000,
				500
			).catch(err => {
				throw new Error(`${err.message}; Prometheus last saw ${seen}, expected created ${ORDERS.length}, finished ${JSON.stringify(expectedByStatus)}`);
			});

			// Every rule of alerts.yml loaded, and evaluated without an error.
			const alertNames = loadAlertRules().map(rule => rule.alert).sort();
			let ruleStates: Array<{ name: string; health: string; lastError?: string; state?: string; lastEvaluation?: string }> = [];
			await waitFor(
				"every rule to be evaluated",
				async () => {
					const body = (await (await fetch(`${p.url}/api/v1/rules`)).json()) as {
						data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; state?: string; lastEvaluation?: string }> }> };
					};
					ruleStates = body.data.groups.flatMap(group => group.rules);
					return ruleStates.length === alertNames.length && ruleStates.every(rule => rule.health !== "unknown" && Date.parse(rule.lastEvaluation ?? "") > bothUpAt);
				},
				15_000,
				250
			);
			expect(ruleStates.map(rule => rule.name).sort()).toEqual(alertNames);
			expect(ruleStates.filter(rule => rule.health !== "ok")).toEqual([]);

			// Every query of the dashboard evaluates.
			const failures: string[] = [];
			for (const { panel, expr } of dashboardQueries()) {
				await query(p, withGrafanaVariables(expr, "1m")).catch((err: Error) => failures.push(`${panel}: ${err.message}`));
			}
			expect(failures).toEqual([]);

			// The dead letters fire DeadLettersArriving (validation and signature), the unsigned one
			// BusPacketsRejected on the processor; nothing else fires or is pending but the dead
			// letters' own depth alert.
			const expectedAlerts = ["DeadLettersArriving", "DeadLettersPending", "BusPacketsRejected"];
			let active: Array<{ labels: Record<string, string>; state: string }> = [];
			const firing = (alertname: string, reason: string) => active.some(a => a.labels.alertname === alertname && a.labels.reason === reason && a.state === "firing");
			await waitFor(
				"DeadLettersArriving and BusPacketsRejected to fire, and no other alert",
				async () => {
					active = ((await (await fetch(`${p.url}/api/v1/alerts`)).json()) as { data: { alerts: typeof active } }).data.alerts;
					return (
						firing("DeadLettersArriving", "validation") &&
						firing("DeadLettersArriving", "signature") &&
						firing("BusPacketsRejected", "signature") &&
						active.every(a => expectedAlerts.includes(a.labels.alertname))
					);
				},
				15_000,
				250
			).catch(err => {
				throw new Error(`${err.message}; active alerts: ${JSON.stringify(active.map(a => ({ ...a.labels, state: a.state })))}`);
			});
			expect(active.find(a => a.labels.alertname === "DeadLettersArriving")?.labels).toMatchObject({ event: "order.created", group: "processor", severity: "warning" });
			// Counted by the node that refused it: the processor, the only consumer of order.created.
			const refusals = active.filter(a => a.labels.alertname === "BusPacketsRejected");
			expect(refusals.map(a => a.labels)).toEqual([expect.objectContaining({ reason: "signature", severity: "warning", nodeID: expect.stringMatching(/processor/) })]);
		}
	);
});
