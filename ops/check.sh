#!/usr/bin/env bash
# Checks the operations pack with promtool (Debian: apt-get install prometheus):
# - the alerting rules parse, and their unit tests (alerts.test.yml) pass;
# - the example Prometheus configuration is valid (it loads alerts.yml);
# - every query of the Grafana dashboard parses (as recording rules, Grafana's $__ variables
#   replaced by a duration).
# Run by .ci/run; the jest tests (test/unit/ops-pack.spec.ts, test/e2e/ops-pack.spec.ts) check
# the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

promtool check rules ops/prometheus/alerts.yml
promtool test rules ops/prometheus/alerts.test.yml
promtool check config ops/prometheus/prometheus.yml

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node=node_modules/.bin/node
[ -x "$node" ] || node=node
# JSON is YAML: one recording rule per dashboard query.
"$node" -e '
	const dashboard = JSON.parse(require("fs").readFileSync("ops/grafana/order-pipeline.json", "utf8"));
	const panels = dashboard.panels.flatMap(p => [p, ...(p.panels || [])]);
	const rules = panels.flatMap(p => (p.targets || []).map(t => ({
		record: `dashboard:panel_${p.id}_${t.refId}`,
		expr: t.expr.replace(/\$\{?__(rate_interval|interval|range)\}?/g, "5m")
	})));
	if (rules.length === 0) throw new Error("the dashboard has no query");
	process.stdout.write(JSON.stringify({ groups: [{ name: "dashboard-queries", rules }] }, null, 1));
' > "$tmp/dashboard-queries.yml"
echo "Checking the queries of ops/grafana/order-pipeline.json"
promtool check rules "$tmp/dashboard-queries.yml"

# The Kubernetes copy of the rules (k8s/31-prometheusrule.yaml) is generated from alerts.yml.
"$node" ops/k8s-prometheusrule.js --check
