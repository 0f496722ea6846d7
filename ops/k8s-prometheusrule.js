#!/usr/bin/env node
/**
 * Writes k8s/31-prometheusrule.yaml, the Prometheus Operator's PrometheusRule, from
 * ops/prometheus/alerts.yml: the alerting rules have one source, and the Kubernetes copy is made
 * from it, never edited. Run after changing alerts.yml:
 *
 *   node ops/k8s-prometheusrule.js           writes the file
 *   node ops/k8s-prometheusrule.js --check   exits 1 when the file is out of date
 *
 * test/unit/deploy/k8s.spec.ts fails too while the file is out of date.
 */
"use strict";
const { readFileSync, writeFileSync } = require("node:fs");
const { join, relative } = require("node:path");
const { isDeepStrictEqual } = require("node:util");
const { parse } = require("yaml");

const ROOT = join(__dirname, "..");
const ALERTS_FILE = join(ROOT, "ops", "prometheus", "alerts.yml");
const PROMETHEUS_RULE_FILE = join(ROOT, "k8s", "31-prometheusrule.yaml");

const HEADER = `# GENERATED from ops/prometheus/alerts.yml by \`node ops/k8s-prometheusrule.js\`: do not edit.
# The alerting rules for the Prometheus Operator (monitoring.coreos.com/v1, installed beforehand).
# Your Prometheus picks up the PrometheusRules its ruleSelector matches: add the label it wants
# (kube-prometheus-stack: release: <its release name>), k8s/README.md. The rules expect the job
# "order-pipeline" and the label "services", which 30-podmonitor.yaml sets.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: order-pipeline-alerts
  namespace: order-pipeline
  labels:
    app.kubernetes.io/name: order-pipeline
    app.kubernetes.io/part-of: order-pipeline
spec:
`;

/**
 * The PrometheusRule whose groups are alerts.yml's: the text from its `groups:` line on, indented
 * under `spec:`, so the comments beside the expressions come along. Throws when the result does
 * not parse back to the same groups (alerts.yml with another top-level key after `groups:`, say).
 */
function renderPrometheusRule(alertsText) {
	const lines = alertsText.split("\n");
	const start = lines.findIndex(line => line.startsWith("groups:"));
	if (start < 0) throw new Error("ops/prometheus/alerts.yml has no top-level 'groups:'");
	const body = lines.slice(start).map(line => (line === "" ? line : `  ${line}`));
	const text = HEADER + body.join("\n").replace(/\n*$/, "\n");
	const groups = parse(alertsText).groups;
	if (!isDeepStrictEqual(parse(text).spec.groups, groups)) throw new Error("the PrometheusRule would not hold alerts.yml's groups");
	return text;
}

module.exports = { ALERTS_FILE, PROMETHEUS_RULE_FILE, renderPrometheusRule };

if (require.main === module) {
	const text = renderPrometheusRule(readFileSync(ALERTS_FILE, "utf8"));
	const target = relative(process.cwd(), PROMETHEUS_RULE_FILE);
	if (process.argv.includes("--check")) {
		let current = "";
		try {
			current = readFileSync(PROMETHEUS_RULE_FILE, "utf8");
		} catch {
			/* missing: out of date */
		}
		if (current !== text) {
			console.error(`${target} is out of date with ops/prometheus/alerts.yml: run node ops/k8s-prometheusrule.js`);
			process.exit(1);
		}
		console.log(`${target} is up to date`);
	} else {
		writeFileSync(PROMETHEUS_RULE_FILE, text);
		console.log(`wrote ${target}`);
	}
}
