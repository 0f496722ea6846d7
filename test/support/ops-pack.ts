/**
 * The operations pack (ops/) as data for the tests: the alerting rules of
 * ops/prometheus/alerts.yml, the queries of the Grafana dashboard ops/grafana/order-pipeline.json,
 * and the metric names a PromQL expression reads.
 *
 * YAML is read with the `yaml` package (resolvable from the project root: a dependency of
 * @seriousme/openapi-schema-validator).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export const REPO_ROOT = join(__dirname, "..", "..");
export const ALERTS_FILE = join(REPO_ROOT, "ops", "prometheus", "alerts.yml");
export const PROMETHEUS_CONFIG_FILE = join(REPO_ROOT, "ops", "prometheus", "prometheus.yml");
export const DASHBOARD_FILE = join(REPO_ROOT, "ops", "grafana", "order-pipeline.json");
export const RUNBOOK_DIR = join(REPO_ROOT, "docs", "runbooks");

export interface AlertRule {
	alert: string;
	expr: string;
	for?: string;
	labels?: Record<string, string>;
	annotations?: Record<string, string>;
	[key: string]: unknown;
}

export interface RuleGroup {
	name: string;
	rules: AlertRule[];
}

/** A YAML file, with merge keys (`<<: *anchor`, as docker-compose.yml uses them) resolved. */
export function readYaml<T = unknown>(file: string): T {
	return parse(readFileSync(file, "utf8"), { merge: true }) as T;
}

export function loadRuleGroups(): RuleGroup[] {
	return readYaml<{ groups: RuleGroup[] }>(ALERTS_FILE).groups;
}

export function loadAlertRules(): AlertRule[] {
	return loadRuleGroups().flatMap(group => group.rules);
}

export interface DashboardPanel {
	id: number;
	type: string;
	title: string;
	gridPos: { h: number; w: number; x: number; y: number };
	datasource?: { type?: string; uid?: string };
	targets?: Array<{ refId: string; expr: string; legendFormat?: string; datasource?: { type?: string; uid?: string } }>;
	panels?: DashboardPanel[];
	[key: string]: unknown;
}

export interface Dashboard {
	uid: string;
	title: string;
	panels: DashboardPanel[];
	templating: { list: Array<{ name: string; type: string; query?: string }> };
	[key: string]: unknown;
}

export function loadDashboard(): Dashboard {
	return JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
}

/** Every panel of the dashboard, those inside collapsed rows included. */
export function dashboardPanels(dashboard = loadDashboard()): DashboardPanel[] {
	return dashboard.panels.flatMap(panel => [panel, ...(panel.panels ?? [])]);
}

/** Every query of the dashboard, with its panel's title. */
export function dashboardQueries(dashboard = loadDashboard()): Array<{ panel: string; expr: string }> {
	return dashboardPanels(dashboard).flatMap(panel => (panel.targets ?? []).map(target => ({ panel: panel.title, expr: target.expr })));
}

/** Grafana's own variables as a query sees them, replaced by what Prometheus can parse. */
export function withGrafanaVariables(expr: string, range = "5m"): string {
	return expr.replace(/\$__(rate_interval|interval|range)\b/g, range).replace(/\$\{?__(rate_interval|interval|range)\}?/g, range);
}

/** Keywords that look like names in PromQL but are none. */
const PROMQL_KEYWORDS = new Set(["and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "inf", "nan"]);

/**
 * The metric names a PromQL expression reads: every bare identifier that is not a function, an
 * aggregation, a keyword, a label (in a matcher or a grouping clause) or part of a string, a number
 * or a duration. Grafana's `$__…` variables may appear in it.
 */
export function metricNames(expr: string): string[] {
	let rest = withGrafanaVariables(expr);
	rest = rest.replace(/#[^\n]*/g, " "); // comments
	rest = rest.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // strings
	rest = rest.replace(/\{[^}]*\}/g, " "); // label matchers
	rest = rest.replace(/\[[^\]]*\]/g, " "); // ranges and subqueries
	rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // grouping labels
	rest = rest.replace(/\boffset\s+-?[0-9a-z]+/gi, " ");
	rest = rest.replace(/@\s*[^\s)]+/g, " ");
	rest = rest.replace(/(?<![A-Za-z0-9_:])(?:0x[0-9a-f]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)/gi, " "); // numbers
	const names = new Set<string>();
	for (const match of rest.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
		const after = rest.slice(match.index! + match[0].length);
		if (/^\s*\(/.test(after)) continue; // a function or an aggregation
		if (PROMQL_KEYWORDS.has(match[0].toLowerCase())) continue;
		names.add(match[0]);
	}
	return [...names].sort();
}

/** Series Prometheus makes itself for each target or rule: never on a /metrics page. */
export const PROMETHEUS_SYNTHESIZED = new Set([
	"up",
	"scrape_duration_seconds",
	"scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling",
	"scrape_series_added",
	"ALERTS",
	"ALERTS_FOR_STATE"
]);

/** Every metric name the rules and the dashboard read, with where each is used. */
export function metricsUsed(): Map<string, string[]> {
	const used = new Map<string, string[]>();
	const add = (name: string, where: string) => used.set(name, [...(used.get(name) ?? []), where]);
	for (const rule of loadAlertRules()) for (const name of metricNames(rule.expr)) add(name, `alert ${rule.alert}`);
	for (const { panel, expr } of dashboardQueries()) for (const name of metricNames(expr)) add(name, `panel "${panel}"`);
	return used;
}

/** docs/runbooks/<alert-in-kebab-case>.md, the runbook of an alert. */
export function runbookPath(alert: string): string {
	return `docs/runbooks/${alert.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()}.md`;
}

/**
 * The names of the samples on a Prometheus text page (its `# HELP` and `# TYPE` lines are not
 * enough: a Moleculer histogram made without buckets has a TYPE line and no `_bucket` sample).
 */
export function exposedMetricNames(page: string): Set<string> {
	const names = new Set<string>();
	for (const line of page.split("\n")) {
		const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[{\s]/.exec(line);
		if (sample) names.add(sample[1]);
	}
	return names;
}
