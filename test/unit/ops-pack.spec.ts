/**
 * The operations pack as files: the alerting rules (ops/prometheus/alerts.yml), the example
 * Prometheus configuration, the Grafana dashboard and the runbooks agree with each other, with the
 * Compose file and with the README. promtool checks the PromQL itself (ops/check.sh, in CI);
 * test/e2e/ops-pack.spec.ts checks the names against a live cluster and a real Prometheus.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
	ALERTS_FILE,
	DASHBOARD_FILE,
	PROMETHEUS_CONFIG_FILE,
	REPO_ROOT,
	RUNBOOK_DIR,
	dashboardPanels,
	dashboardQueries,
	loadAlertRules,
	loadDashboard,
	loadRuleGroups,
	metricNames,
	metricsUsed,
	readYaml,
	runbookPath
} from "../support/ops-pack";

/** The product's own metrics, by Prometheus name and type (lib/metrics). */
const BUSINESS_METRICS: Record<string, "counter" | "gauge" | "histogram"> = {
	orders_created_total: "counter",
	orders_finished_total: "counter",
	order_saga_duration_seconds: "histogram",
	processor_processing_duration_seconds: "histogram",
	stock_reservations_total: "counter",
	outbox_pending_events: "gauge",
	outbox_oldest_pending_age_seconds: "gauge",
	event_retries_total: "counter",
	dead_letters_total: "counter",
	dead_letters_pending: "gauge",
	bus_packets_rejected_total: "counter"
};

/** Names a query may read for each business metric: a histogram only through its series. */
function seriesOf(name: string): string[] {
	return BUSINESS_METRICS[name] === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}
const BUSINESS_SERIES = new Map(Object.keys(BUSINESS_METRICS).flatMap(name => seriesOf(name).map(series => [series, name] as const)));
/** Prefixes of Moleculer's built-in metrics (names checked live by the e2e test). */
const BUILT_IN = /^(moleculer|process|os)_[a-z0-9_]+$/;

const rules = loadAlertRules();
const dashboard = loadDashboard();
const readmeSection = (() => {
	const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
	const start = readme.indexOf("\n## Logs and metrics\n");
	if (start < 0) throw new Error("README.md has no '## Logs and metrics' section");
	const end = readme.indexOf("\n## ", start + 1);
	return readme.slice(start, end < 0 ? undefined : end);
})();

describe("Test 'metricNames' (PromQL → the metrics it reads)", () => {
	it.each([
		["up == 0", ["up"]],
		['sum by (status) (rate(orders_finished_total{status=~"completed|failed"}[5m]))', ["orders_finished_total"]],
		["histogram_quantile(0.95, sum by (le, action) (rate(moleculer_request_time_bucket[$__rate_interval])))", ["moleculer_request_time_bucket"]],
		["sum(rate(a_total[5m])) by (job) / on (job) group_left(x) sum(rate(b_total[5m])) > 1e3", ["a_total", "b_total"]],
		['label_replace(absent(up{services=~"(.*,)?api(,.*)?"} == 1), "service", "api", "", "") or vector(0)', ["up"]],
		["x_total unless x_total offset 10m and bool y > Inf", ["x_total", "y"]],
		['count_values("version", process_versions_node) # sum(hidden_total)', ["process_versions_node"]],
		["max_over_time(outbox_pending_events[1h:5m]) - outbox_pending_events @ 1700000000", ["outbox_pending_events"]]
	])("should read %s as %j", (expr, expected) => {
		expect(metricNames(expr)).toEqual(expected);
	});
});

describe("Alerting rules (ops/prometheus/alerts.yml)", () => {
	it("should hold only alerting rules, with unique names, in named groups", () => {
		const groups = loadRuleGroups();
		expect(groups.length).toBeGreaterThan(0);
		for (const group of groups) {
			expect(group.name).toMatch(/^order-pipeline\./);
			expect(group.rules.length).toBeGreaterThan(0);
		}
		expect(rules.every(rule => typeof rule.alert === "string" && /^[A-Z][A-Za-z0-9]+$/.test(rule.alert))).toBe(true);
		expect(new Set(rules.map(rule => rule.alert)).size).toBe(rules.length);
	});

	it.each(rules.map(rule => [rule.alert, rule] as const))("%s should have an expression, a duration, a severity, a summary, a description and its runbook", (alert, rule) => {
		expect(typeof rule.expr).toBe("string");
		expect(rule.expr.trim()).not.toBe("");
		expect(rule.for).toMatch(/^\d+[smh]$/);
		expect(["critical", "warning"]).toContain(rule.labels?.severity);
		expect(rule.annotations?.summary?.trim()).toBeTruthy();
		expect(rule.annotations?.description?.trim().length).toBeGreaterThan(40);
		expect(rule.annotations?.runbook_url).toBe(runbookPath(alert));
		expect(existsSync(join(REPO_ROOT, runbookPath(alert)))).toBe(true);
		// Every metric it reads exists as far as the files can tell (the e2e test asks a live node).
		for (const name of metricNames(rule.expr)) {
			expect(BUSINESS_SERIES.has(name) || BUILT_IN.test(name) || name === "up" ? name : `unknown metric ${name}`).toBe(name);
		}
	});

	it("should cover what an operator of the saga must hear about", () => {
		const readsOf = (alert: string) => metricNames(rules.find(rule => rule.alert === alert)?.expr ?? "");
		// alert → metrics it must read
		const expected: Record<string, string[]> = {
			NodeDown: ["up"],
			ServiceWithoutNodes: ["up"],
			OutboxLagging: ["outbox_oldest_pending_age_seconds"],
			DeadLettersArriving: ["dead_letters_total"],
			DeadLettersPending: ["dead_letters_pending"],
			OrdersStuckPending: ["orders_created_total", "orders_finished_total"],
			OrdersExpiring: ["orders_finished_total"],
			ActionErrorRateHigh: ["moleculer_request_error_total", "moleculer_request_total"],
			SagaDurationHigh: ["order_saga_duration_seconds_bucket"],
			EventRetriesHigh: ["event_retries_total", "moleculer_event_received_total"],
			BusPacketsRejected: ["bus_packets_rejected_total"]
		};
		for (const [alert, metrics] of Object.entries(expected)) expect({ alert, reads: readsOf(alert) }).toEqual({ alert, reads: expect.arrayContaining(metrics) });
	});

	it("should be listed in ops/README.md with their duration and severity", () => {
		const guide = readFileSync(join(REPO_ROOT, "ops", "README.md"), "utf8");
		for (const rule of rules) {
			const row = guide.split("\n").find(line => line.startsWith(`| \`${rule.alert}\` |`));
			const duration = rule.for === "0m" ? "—" : rule.for;
			expect({ alert: rule.alert, ending: row?.replace(/^.*\|([^|]*)\|([^|]*)\|\s*$/, "$1|$2").split("|").map(cell => cell.trim()) }).toEqual({
				alert: rule.alert,
				ending: [duration, rule.labels!.severity]
			});
		}
	});

	it("should scope the node alerts to the scrape job the example configuration defines", () => {
		for (const alert of ["NodeDown", "ServiceWithoutNodes"]) {
			expect(rules.find(rule => rule.alert === alert)?.expr).toContain('up{job="order-pipeline"');
		}
	});
});

describe("Runbooks (docs/runbooks)", () => {
	const pages = readdirSync(RUNBOOK_DIR).filter(file => file.endsWith(".md") && file !== "README.md");

	it("should have one page per alert, and no page without an alert", () => {
		expect(pages.map(page => `docs/runbooks/${page}`).sort()).toEqual(rules.map(rule => runbookPath(rule.alert)).sort());
	});

	it.each(rules.map(rule => [rule.alert, rule] as const))("%s's page should say what it means, why, what to check and how to resolve", (alert, rule) => {
		const page = readFileSync(join(REPO_ROOT, runbookPath(alert)), "utf8");
		expect(page.split("\n")[0]).toBe(`# ${alert}`);
		expect(page).toContain(`**Severity:** ${rule.labels!.severity}.`);
		for (const section of ["## What it means", "## Likely causes", "## What to check", "## How to resolve"]) expect(page).toContain(`\n${section}\n`);
	});

	it("should link only to files that exist, and list every alert in the index", () => {
		for (const page of [...pages, "README.md"]) {
			const text = readFileSync(join(RUNBOOK_DIR, page), "utf8");
			for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
				if (/^[a-z]+:/.test(target)) continue;
				expect({ page, target, exists: existsSync(resolve(RUNBOOK_DIR, target)) }).toEqual({ page, target, exists: true });
			}
		}
		const index = readFileSync(join(RUNBOOK_DIR, "README.md"), "utf8");
		for (const rule of rules) expect(index).toContain(`| \`${rule.alert}\` | ${rule.labels!.severity} | [${runbookPath(rule.alert).replace("docs/runbooks/", "")}]`);
	});
});

describe("Grafana dashboard (ops/grafana/order-pipeline.json)", () => {
	const panels = dashboardPanels(dashboard).filter(panel => panel.type !== "row");

	it("should be importable: uid, title, a Prometheus data source variable every query uses", () => {
		expect(dashboard.uid).toBe("order-pipeline");
		expect(dashboard.title).toBeTruthy();
		expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }));
		expect(panels.length).toBeGreaterThan(10);
		for (const panel of panels) {
			expect({ panel: panel.title, datasource: panel.datasource }).toEqual({ panel: panel.title, datasource: { type: "prometheus", uid: "${datasource}" } });
			expect(panel.targets?.length).toBeGreaterThan(0);
			const refIds = panel.targets!.map(target => target.refId);
			expect(new Set(refIds).size).toBe(refIds.length);
			for (const target of panel.targets!) {
				expect(target.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
				expect(target.expr.trim()).not.toBe("");
			}
		}
	});

	it("should lay its panels out on the 24-column grid without overlaps, with unique ids", () => {
		const all = dashboardPanels(dashboard);
		expect(new Set(all.map(panel => panel.id)).size).toBe(all.length);
		for (const a of all) {
			expect(a.gridPos.x + a.gridPos.w).toBeLessThanOrEqual(24);
			for (const b of all) {
				if (a === b) continue;
				const overlap =
					a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
				expect({ a: a.title, b: b.title, overlap }).toEqual({ a: a.title, b: b.title, overlap: false });
			}
		}
	});

	it("should show every business metric, Moleculer's request metrics and the scrape status", () => {
		const read = new Set(dashboardQueries(dashboard).flatMap(({ expr }) => metricNames(expr)));
		for (const name of Object.keys(BUSINESS_METRICS)) {
			expect({ name, shown: seriesOf(name).some(series => read.has(series)) }).toEqual({ name, shown: true });
		}
		for (const name of ["moleculer_request_total", "moleculer_request_error_total", "moleculer_request_time_bucket", "up"]) expect(read).toContain(name);
		expect(dashboardQueries(dashboard).map(q => q.expr)).toEqual(
			expect.arrayContaining([expect.stringMatching(/histogram_quantile\(0\.5, .*order_saga_duration_seconds_bucket/), expect.stringMatching(/histogram_quantile\(0\.99, .*order_saga_duration_seconds_bucket/)])
		);
	});

	it("should read no metric that does not exist as far as the files can tell", () => {
		for (const { panel, expr } of dashboardQueries(dashboard)) {
			for (const name of metricNames(expr)) {
				expect({ panel, name, known: BUSINESS_SERIES.has(name) || BUILT_IN.test(name) || name === "up" }).toEqual({ panel, name, known: true });
			}
		}
	});
});

describe("README's 'Logs and metrics' section", () => {
	it("should explain every business metric the rules and the dashboard read", () => {
		const business = new Set([...metricsUsed().keys()].flatMap(name => (BUSINESS_SERIES.has(name) ? [BUSINESS_SERIES.get(name)!] : [])));
		expect(business.size).toBe(Object.keys(BUSINESS_METRICS).length);
		for (const name of business) expect({ name, documented: readmeSection.includes(`\`${name}`) }).toEqual({ name, documented: true });
	});

	it("should point at the operations pack", () => {
		for (const path of ["ops/prometheus/alerts.yml", "ops/grafana/order-pipeline.json", "docs/runbooks", "ops/docker-compose.ops.yml"]) expect(readmeSection).toContain(path);
	});
});

describe("Example Prometheus configuration (ops/prometheus/prometheus.yml) and the Compose override", () => {
	interface ScrapeConfig {
		job_name: string;
		dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
		relabel_configs?: Array<{ source_labels?: string[]; target_label?: string }>;
	}
	const config = readYaml<{ rule_files: string[]; scrape_configs: ScrapeConfig[] }>(PROMETHEUS_CONFIG_FILE);
	const compose = readYaml<{ services: Record<string, { environment?: Record<string, string> }> }>(join(REPO_ROOT, "docker-compose.yml"));
	const productServices = Object.entries(compose.services).filter(([, service]) => service.environment?.SERVICES);

	it("should load alerts.yml from beside it", () => {
		expect(config.rule_files.map(file => resolve(dirname(PROMETHEUS_CONFIG_FILE), file))).toContain(ALERTS_FILE);
	});

	it("should scrape every product container of the Compose file as the job the rules expect, labelled with its services", () => {
		const job = config.scrape_configs.find(scrape => scrape.job_name === "order-pipeline");
		expect(job).toBeDefined();
		expect(productServices.length).toBeGreaterThan(0);
		const names = job!.dns_sd_configs!.flatMap(sd => sd.names);
		expect([...names].sort()).toEqual(productServices.map(([name]) => name).sort());
		for (const [name, service] of productServices) {
			// The DNS name becomes the `services` label: it must be what the container runs.
			expect(service.environment!.SERVICES).toBe(name);
			expect(String(service.environment!.METRICS_PORT)).toBe(String(job!.dns_sd_configs![0].port));
			expect(service.environment!.METRICS_HOST).toBe("0.0.0.0");
		}
		expect(job!.relabel_configs).toContainEqual({ source_labels: ["__meta_dns_name"], target_label: "services" });
	});

	it("should mount files that exist into Prometheus and Grafana", () => {
		const override = readYaml<{ services: Record<string, { volumes?: string[] }> }>(join(REPO_ROOT, "ops", "docker-compose.ops.yml"));
		const mounts = Object.values(override.services).flatMap(service => service.volumes ?? []).filter(volume => volume.startsWith("./"));
		expect(mounts.length).toBeGreaterThanOrEqual(3);
		for (const mount of mounts) {
			const source = mount.split(":")[0];
			expect({ source, exists: existsSync(join(REPO_ROOT, source)) }).toEqual({ source, exists: true });
		}
		expect(mounts).toContain("./ops/grafana/order-pipeline.json:/var/lib/grafana/dashboards/order-pipeline.json:ro");
		expect(existsSync(DASHBOARD_FILE)).toBe(true);
	});
});
