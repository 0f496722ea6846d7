/**
 * The Kubernetes manifests: what `kubectl apply -f k8s/` applies (the files directly in k8s/, not
 * its subfolders) holds no Secret with a usable value, every Deployment takes the cluster key and
 * every other credential from the Secret, and the example Secrets outside that folder have every
 * key the manifests read, each a placeholder the product refuses. Every document passes the
 * Kubernetes API schemas (offline, k8s-manifests.ts) and our own rules (k8s-rules.ts: the
 * workloads; k8s-wiring-rules.ts: queues, network, monitoring); each rule is also shown a broken
 * copy, to prove it can fail.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadRuleGroups, ALERTS_FILE, REPO_ROOT } from "../../support/ops-pack";
import { DEFAULT_CONSUMER_PREFETCH } from "../../../lib/transport/reliable-amqp";
import { EXAMPLES_DIR, K8S_DIR, appliedFiles, containersOf, deploymentsOf, readManifests, validateAgainstSchemas, type Container, type Manifest, type SchemaResult } from "./k8s-manifests";
import { autoscalerProblems, budgetProblems, containerProblems, podSecurityProblems, secretKeys, secretReferenceProblems, secretReferences, selectorProblems, spreadProblems } from "./k8s-rules";
import { consumedQueues, networkPolicyProblems, podLabelReferenceProblems, podMonitorProblems, queueScalerProblems } from "./k8s-wiring-rules";

const SECRET_NAME = "order-pipeline-secrets";
/** Variables that carry credentials or keys: never a literal in a manifest, never in the ConfigMap. */
const SECRET_VARIABLES = ["TRANSPORTER", "CLUSTER_SECRET", "CLUSTER_SECRET_PREVIOUS", "JWT_SECRET", "ORDERS_DATABASE_URL", "PROCESSOR_DATABASE_URL", "RATE_LIMIT_DATABASE_URL"];

const { renderPrometheusRule, PROMETHEUS_RULE_FILE } = require("../../../ops/k8s-prometheusrule") as {
	renderPrometheusRule(alertsText: string): string;
	PROMETHEUS_RULE_FILE: string;
};

/** Every value of a Secret, `data` decoded. */
function secretValues(secret: Manifest): Record<string, string> {
	return {
		...Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")])),
		...(secret.stringData ?? {})
	};
}

/** A value no deployment can use: the product refuses it as a key, and as a URL its host does not resolve. */
function isPlaceholder(value: string): boolean {
	return value.includes("CHANGE_ME");
}

const applied = appliedFiles(K8S_DIR);
const manifests = applied.flatMap(readManifests);
const deployments = deploymentsOf(manifests);
const containers = deployments.flatMap(deployment => containersOf(deployment).map(container => ({ deployment: deployment.metadata.name, container })));
const examples = appliedFiles(EXAMPLES_DIR).flatMap(readManifests);
const exampleSecrets = examples.filter(doc => doc.kind === "Secret");
const namespace = manifests.find(doc => doc.kind === "ConfigMap")?.data?.NAMESPACE;

/** A copy of the manifests with one change: what a rule must catch. */
function broken(change: (copy: Manifest[]) => void): Manifest[] {
	const copy = structuredClone(manifests);
	change(copy);
	return copy;
}

function find(documents: Manifest[], kind: string, name: string): Manifest {
	const found = documents.find(doc => doc.kind === kind && doc.metadata.name === name);
	if (!found) throw new Error(`no ${kind} ${name}`);
	return found;
}

const container = (documents: Manifest[], deployment: string): Container => containersOf(find(documents, "Deployment", deployment))[0];

describe("What kubectl apply -f k8s/ applies", () => {
	it("should be the namespace, the ConfigMap, the network policies, the three components, their autoscaling and their monitoring", () => {
		expect(applied.map(file => file.slice(K8S_DIR.length + 1))).toEqual([
			"00-namespace.yaml",
			"01-configmap.yaml",
			"02-network-policies.yaml",
			"10-api.yaml",
			"11-orders.yaml",
			"12-processor.yaml",
			"20-keda.yaml",
			"30-podmonitor.yaml",
			"31-prometheusrule.yaml"
		]);
		expect(deployments.map(deployment => deployment.metadata.name).sort()).toEqual(["api", "orders", "processor"]);
	});

	it("should put everything in the namespace order-pipeline", () => {
		for (const doc of manifests.filter(doc => doc.kind !== "Namespace")) expect({ doc: doc.source, namespace: doc.metadata.namespace }).toEqual({ doc: doc.source, namespace: "order-pipeline" });
	});

	it("should hold no Secret with a usable value", () => {
		for (const secret of manifests.filter(doc => doc.kind === "Secret")) {
			for (const [key, value] of Object.entries(secretValues(secret))) {
				expect({ secret: secret.metadata.name, key, placeholder: isPlaceholder(value) }).toEqual({ secret: secret.metadata.name, key, placeholder: true });
			}
		}
	});

	it("should keep credentials and keys out of the ConfigMap", () => {
		const configMaps = manifests.filter(doc => doc.kind === "ConfigMap");
		expect(configMaps.length).toBeGreaterThan(0);
		for (const configMap of configMaps) for (const name of SECRET_VARIABLES) expect({ configMap: configMap.metadata.name, has: name in (configMap.data ?? {}) }).toEqual({ configMap: configMap.metadata.name, has: false });
	});
});

describe("The manifests against the Kubernetes API schemas", () => {
	/** Documents each schema refuses: a wrong type, a value outside an enum, a kind no model knows. */
	const refused: Manifest[] = [
		{ ...structuredClone(find(manifests, "Deployment", "orders")), source: "broken: replicas as text", spec: { ...find(manifests, "Deployment", "orders").spec, replicas: "two" } },
		{ ...structuredClone(find(manifests, "PodDisruptionBudget", "api")), source: "broken: an unknown eviction policy", spec: { ...find(manifests, "PodDisruptionBudget", "api").spec, unhealthyPodEvictionPolicy: "Sometimes" } },
		{ ...structuredClone(find(manifests, "ScaledObject", "orders")), source: "broken: minReplicaCount as text", spec: { ...find(manifests, "ScaledObject", "orders").spec, minReplicaCount: "2" } },
		{ ...structuredClone(find(manifests, "PodMonitor", "order-pipeline")), source: "broken: podMetricsEndpoints as an object", spec: { selector: {}, podMetricsEndpoints: { port: "metrics" } } },
		{ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, source: "broken: a kind no model knows" }
	];
	let results: SchemaResult[] = [];

	beforeAll(async () => {
		results = await validateAgainstSchemas([...manifests, ...examples, ...refused]);
	});

	it("should find every document of k8s/ and k8s/examples/ valid", () => {
		const valid = results.slice(0, manifests.length + examples.length);
		expect(valid.map(result => result.source)).toEqual([...manifests, ...examples].map(doc => doc.source));
		expect(valid.filter(result => result.errors.length > 0)).toEqual([]);
	});

	it("should refuse a document the schemas do not allow", () => {
		const broken = results.slice(manifests.length + examples.length);
		expect(broken.map(result => result.source)).toEqual(refused.map(doc => doc.source));
		for (const result of broken) expect({ source: result.source, refused: result.errors.length > 0 }).toEqual({ source: result.source, refused: true });
		expect(broken[1].errors.join()).toContain("AlwaysAllow, IfHealthyBudget");
		expect(broken[4].errors).toEqual(["no schema for example.com/v1 Widget"]);
	});
});

describe("Our rules for the manifests", () => {
	const rules: Record<string, (documents: Manifest[]) => string[]> = {
		"selectors and targets find their pods": selectorProblems,
		"one autoscaler a Deployment, at least 2 replicas": autoscalerProblems,
		"one disruption budget a Deployment": budgetProblems,
		"every Secret reference has its example": documents => secretReferenceProblems(documents, examples),
		"every container bounded, probed, its heap at ~75 %": containerProblems,
		"the restricted Pod Security Standard": podSecurityProblems,
		"spread over nodes and zones": spreadProblems,
		"scaled on the queues the service consumes": documents => queueScalerProblems(documents, namespace, DEFAULT_CONSUMER_PREFETCH),
		"network denied but for the ingress, the monitoring and the dependencies": networkPolicyProblems,
		"scraped with the labels the alerts expect": podMonitorProblems
	};

	it.each(Object.entries(rules))("should hold for k8s/: %s", (_rule, problems) => {
		expect(problems(manifests)).toEqual([]);
	});

	/** [rule, what is broken, the change, a phrase of the problem it must report] */
	const breakages: Array<[string, string, (copy: Manifest[]) => void, string]> = [
		["selectors and targets find their pods", "a Service selecting another component", copy => (find(copy, "Service", "api").spec.selector["app.kubernetes.io/component"] = "gateway"), "Service api (k8s/10-api.yaml#2) selects no Deployment's pods"],
		["selectors and targets find their pods", "a ScaledObject naming no Deployment", copy => (find(copy, "ScaledObject", "processor").spec.scaleTargetRef.name = "processors"), "scales no Deployment of k8s/"],
		["selectors and targets find their pods", "a PodMonitor on a port the pods lack", copy => (find(copy, "PodMonitor", "order-pipeline").spec.podMetricsEndpoints[0].port = "prometheus"), "port prometheus is not a port of api"],
		["one autoscaler a Deployment, at least 2 replicas", "an HPA beside orders' ScaledObject", copy => copy.push({ ...structuredClone(find(copy, "HorizontalPodAutoscaler", "api")), spec: { ...find(copy, "HorizontalPodAutoscaler", "api").spec, scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "orders" } } }), "Deployment orders has 2 autoscalers"],
		["one autoscaler a Deployment, at least 2 replicas", "orders down to 1", copy => (find(copy, "ScaledObject", "orders").spec.minReplicaCount = 1), "lets orders go down to 1 replica(s)"],
		["one autoscaler a Deployment, at least 2 replicas", "a replica count under an autoscaler", copy => (find(copy, "Deployment", "processor").spec.replicas = 2), "Deployment processor sets replicas"],
		["one disruption budget a Deployment", "no budget for processor", copy => copy.splice(copy.indexOf(find(copy, "PodDisruptionBudget", "processor")), 1), "Deployment processor has 0 PodDisruptionBudgets"],
		["one disruption budget a Deployment", "a budget that keeps broken pods", copy => (find(copy, "PodDisruptionBudget", "orders").spec.unhealthyPodEvictionPolicy = "IfHealthyBudget"), "should be AlwaysAllow"],
		["every Secret reference has its example", "a key the example lacks", copy => (container(copy, "orders").env!.find(v => v.name === "ORDERS_DATABASE_URL")!.valueFrom!.secretKeyRef!.key = "ORDERS_DB_URL"), "reads the key ORDERS_DB_URL"],
		["every Secret reference has its example", "a Secret with no example", copy => (find(copy, "TriggerAuthentication", "rabbitmq-management").spec.secretTargetRef[0].name = "rabbitmq"), "reads the Secret rabbitmq"],
		["every container bounded, probed, its heap at ~75 %", "a heap as large as the limit", copy => (container(copy, "processor").env!.find(v => v.name === "NODE_OPTIONS")!.value = "--max-old-space-size=256"), "is 100 % of the 256Mi limit"],
		["every container bounded, probed, its heap at ~75 %", "no startup probe", copy => delete container(copy, "orders").startupProbe, "has no HTTP startupProbe"],
		["every container bounded, probed, its heap at ~75 %", "a probe on /metrics", copy => (container(copy, "orders").readinessProbe!.httpGet!.path = "/metrics"), "asks the metrics port for /metrics"],
		["every container bounded, probed, its heap at ~75 %", "no memory limit", copy => delete container(copy, "api").resources!.limits!.memory, "has no memory limits"],
		["the restricted Pod Security Standard", "privilege escalation", copy => (container(copy, "api").securityContext!.allowPrivilegeEscalation = true), "allows privilege escalation"],
		["the restricted Pod Security Standard", "a namespace enforcing baseline", copy => (find(copy, "Namespace", "order-pipeline").metadata.labels!["pod-security.kubernetes.io/enforce"] = "baseline"), "enforce is baseline"],
		["spread over nodes and zones", "zones required", copy => (find(copy, "Deployment", "api").spec.template.spec.topologySpreadConstraints[1].whenUnsatisfiable = "DoNotSchedule"), "should be ScheduleAnyway"],
		["spread over nodes and zones", "no spread over nodes", copy => find(copy, "Deployment", "orders").spec.template.spec.topologySpreadConstraints.shift(), "does not spread over kubernetes.io/hostname"],
		["scaled on the queues the service consumes", "amqp, which misses the unacknowledged", copy => (find(copy, "ScaledObject", "processor").spec.triggers[0].metadata.protocol = "amqp"), "protocol should be http"],
		["scaled on the queues the service consumes", "the unacknowledged left out", copy => (find(copy, "ScaledObject", "orders").spec.triggers[0].metadata.excludeUnacknowledged = "true"), "leaves the unacknowledged messages out"],
		["scaled on the queues the service consumes", "a queue of another service", copy => (find(copy, "ScaledObject", "orders").spec.triggers[0].metadata.queueName = "MOL.EVENTB.processor.order.created"), "orders consumes MOL.EVENTB.orders.order.compensated, MOL.EVENTB.orders.order.processed"],
		["scaled on the queues the service consumes", "more messages a pod than its prefetch", copy => (find(copy, "ScaledObject", "orders").spec.triggers[1].metadata.value = "100"), "value 100 should be 1 to the prefetch (16)"],
		["network denied but for the ingress, the monitoring and the dependencies", "no default deny", copy => copy.splice(copy.indexOf(find(copy, "NetworkPolicy", "default-deny")), 1), "no NetworkPolicy denies all"],
		["network denied but for the ingress, the monitoring and the dependencies", "egress to the management port", copy => find(copy, "NetworkPolicy", "egress-to-dependencies").spec.egress[1].ports.push({ protocol: "TCP", port: 15672 }), "egress allowed to TCP/15672"],
		["network denied but for the ingress, the monitoring and the dependencies", "the api open to anyone", copy => delete find(copy, "NetworkPolicy", "api-from-ingress").spec.ingress[0].from, "lets anyone in"],
		["network denied but for the ingress, the monitoring and the dependencies", "metrics closed", copy => (find(copy, "NetworkPolicy", "metrics-from-monitoring").spec.ingress[0].ports[0].port = "http"), "the metrics port of orders is not reachable"],
		["scraped with the labels the alerts expect", "services from a label the pods lack", copy => (find(copy, "PodMonitor", "order-pipeline").spec.podMetricsEndpoints[0].relabelings[0].sourceLabels = ["__meta_kubernetes_pod_label_app"]), "the label services should come from __meta_kubernetes_pod_label_app_kubernetes_io_component"],
		["scraped with the labels the alerts expect", "a component label other than SERVICES", copy => (find(copy, "Deployment", "processor").spec.template.metadata.labels["app.kubernetes.io/component"] = "worker"), "(worker) is not its SERVICES (processor)"]
	];

	it.each(breakages)("%s: should catch %s", (rule, _what, change, expected) => {
		expect(rules[rule](broken(change))).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
	});

	it("should scale orders and processor on the durable queues of their consumer groups", () => {
		expect(namespace).toBe("");
		expect(consumedQueues("orders", namespace)).toEqual(["MOL.EVENTB.orders.order.compensated", "MOL.EVENTB.orders.order.processed"]);
		expect(consumedQueues("processor", namespace)).toEqual(["MOL.EVENTB.processor.order.cancelled", "MOL.EVENTB.processor.order.created"]);
		// A Moleculer namespace changes every queue's prefix: the ScaledObjects must follow.
		expect(queueScalerProblems(manifests, "shop", DEFAULT_CONSUMER_PREFETCH)).toEqual(
			expect.arrayContaining([expect.stringContaining("orders consumes MOL-shop.EVENTB.orders.order.compensated")])
		);
	});

	it("should keep one autoscaler a Deployment with the HPAs of k8s/examples/ instead of KEDA's", () => {
		const withoutKeda = [...manifests.filter(doc => doc.kind !== "ScaledObject"), ...examples.filter(doc => doc.kind === "HorizontalPodAutoscaler")];
		expect(autoscalerProblems(withoutKeda)).toEqual([]);
		expect(autoscalerProblems([...manifests, ...examples])).toEqual(expect.arrayContaining([expect.stringContaining("Deployment orders has 2 autoscalers")]));
	});
});

describe("The pod labels Prometheus relabels from", () => {
	const places = ["ops/README.md", "ops/prometheus/prometheus.yml", "k8s/30-podmonitor.yaml", "k8s/README.md", "README.md"];

	it.each(places)("should be labels the pods carry, in %s", place => {
		expect(podLabelReferenceProblems(place, readFileSync(join(REPO_ROOT, place), "utf8"), manifests)).toEqual([]);
	});

	it("should catch a label the pods do not carry", () => {
		expect(podLabelReferenceProblems("a guide", "source_labels: [__meta_kubernetes_pod_label_app]", manifests)).toEqual([
			"a guide relabels from __meta_kubernetes_pod_label_app, a label no pod of k8s/ carries"
		]);
	});
});

describe("The PrometheusRule (k8s/31-prometheusrule.yaml)", () => {
	const alertsText = readFileSync(ALERTS_FILE, "utf8");
	const [prometheusRule] = readManifests(PROMETHEUS_RULE_FILE);

	it("should be what node ops/k8s-prometheusrule.js makes of ops/prometheus/alerts.yml", () => {
		expect(readFileSync(PROMETHEUS_RULE_FILE, "utf8")).toBe(renderPrometheusRule(alertsText));
	});

	it("should hold the groups of alerts.yml, no more, no less", () => {
		expect(prometheusRule.spec.groups).toEqual(loadRuleGroups());
	});

	it("should tell a changed alerts.yml from the file", () => {
		const changed = alertsText.replace("for: 2m", "for: 3m");
		expect(changed).not.toBe(alertsText);
		expect(renderPrometheusRule(changed)).not.toBe(readFileSync(PROMETHEUS_RULE_FILE, "utf8"));
	});
});

describe("The Deployments", () => {
	it.each(containers.map(({ deployment, container }) => [deployment, container] as const))("%s should take CLUSTER_SECRET and TRANSPORTER from the Secret", (_deployment, container) => {
		const env = new Map((container.env ?? []).map(variable => [variable.name, variable]));
		for (const name of ["CLUSTER_SECRET", "TRANSPORTER"]) {
			expect(env.get(name)).toEqual({ name, valueFrom: { secretKeyRef: { name: SECRET_NAME, key: name } } });
		}
		// The key before a rotation: read when the Secret has it.
		expect(env.get("CLUSTER_SECRET_PREVIOUS")).toEqual({
			name: "CLUSTER_SECRET_PREVIOUS",
			valueFrom: { secretKeyRef: { name: SECRET_NAME, key: "CLUSTER_SECRET_PREVIOUS", optional: true } }
		});
	});

	it.each(containers.map(({ deployment, container }) => [deployment, container] as const))("%s should set no credential as a literal", (_deployment, container) => {
		for (const variable of container.env ?? []) {
			if (!SECRET_VARIABLES.includes(variable.name)) continue;
			expect({ name: variable.name, literal: variable.value, fromSecret: variable.valueFrom?.secretKeyRef?.name }).toEqual({ name: variable.name, literal: undefined, fromSecret: SECRET_NAME });
		}
	});
});

describe("The example Secrets (k8s/examples/)", () => {
	const references = secretReferences(manifests);

	it("should be the Secrets the manifests read, each with every key they need and no other", () => {
		expect(exampleSecrets.map(secret => [secret.metadata.name, secret.metadata.namespace]).sort()).toEqual([
			["order-pipeline-keda", "order-pipeline"],
			[SECRET_NAME, "order-pipeline"]
		]);
		for (const secret of exampleSecrets) {
			const required = new Set(references.filter(ref => ref.secret === secret.metadata.name && !ref.optional && ref.key).map(ref => ref.key));
			expect({ secret: secret.metadata.name, keys: secretKeys(secret).sort() }).toEqual({ secret: secret.metadata.name, keys: [...required].sort() });
		}
		expect(secretKeys(find(examples, "Secret", SECRET_NAME))).toContain("CLUSTER_SECRET");
	});

	it("should hold only placeholders the product refuses", () => {
		for (const secret of exampleSecrets) {
			for (const [key, value] of Object.entries(secretValues(secret))) expect({ secret: secret.metadata.name, key, placeholder: isPlaceholder(value) }).toEqual({ secret: secret.metadata.name, key, placeholder: true });
		}
	});
});

describe("k8s/README.md", () => {
	const guide = readFileSync(join(K8S_DIR, "README.md"), "utf8");

	it("should create the Secret with fresh random keys, CLUSTER_SECRET among them", () => {
		expect(guide).toContain("kubectl -n order-pipeline create secret generic order-pipeline-secrets");
		expect(guide).toContain('--from-literal=CLUSTER_SECRET="$(openssl rand -hex 32)"');
		expect(guide).toContain('--from-literal=JWT_SECRET="$(openssl rand -hex 32)"');
		expect(guide).toContain("kubectl -n order-pipeline create secret generic order-pipeline-keda");
	});

	it("should apply k8s/ without -R, and list the examples as not applied", () => {
		expect(guide).toContain("kubectl apply -f k8s/");
		expect(guide).not.toMatch(/kubectl apply[^\n]*(-R|--recursive)/);
		// The one example meant to be applied, instead of 20-keda.yaml.
		expect(guide.match(/kubectl apply[^\n]*examples[^\n]*/g) ?? []).toEqual(["kubectl apply -f k8s/examples/hpa-without-keda.yaml"]);
	});

	it("should list every file it applies and every label a cluster may need changed", () => {
		for (const file of applied) expect(guide).toContain(`\`${file.slice(K8S_DIR.length + 1)}\``);
		for (const label of ["ingress-nginx", "monitoring", "kube-dns", "messaging", "databases", "observability"]) expect(guide).toContain(label);
	});
});
