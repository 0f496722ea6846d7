/**
 * Our own rules for the Kubernetes manifests, beyond the API schemas: what points at a Deployment
 * finds its pods, each Deployment has one autoscaler and one budget, every container is bounded,
 * probed and restricted, the autoscalers watch the queues the product declares. Each rule returns
 * the problems it finds, one sentence each; none is a pass. Pure functions of the manifests, so
 * that the tests can feed them a broken copy and see each rule fail.
 */
import { Events, ConsumerGroups } from "../../../lib/contracts/events";
import { HEALTH_LIVE_PATH, HEALTH_READY_PATH } from "../../../lib/health/health-endpoints";
import { eventQueueNames } from "../../../lib/transport/event-queues";
import { nameOf, type Manifest } from "./k8s-manifests";

type Labels = Record<string, string>;

interface LabelSelector {
	matchLabels?: Labels;
	matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}

interface Probe {
	httpGet?: { path: string; port: string | number };
}

export interface Container {
	name: string;
	env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }>;
	envFrom?: Array<{ secretRef?: { name: string; optional?: boolean } }>;
	ports?: Array<{ name?: string; containerPort: number; hostPort?: number }>;
	resources?: { requests?: Labels; limits?: Labels };
	readinessProbe?: Probe;
	livenessProbe?: Probe;
	startupProbe?: Probe;
	securityContext?: SecurityContext;
}

interface SecurityContext {
	runAsNonRoot?: boolean;
	runAsUser?: number;
	privileged?: boolean;
	allowPrivilegeEscalation?: boolean;
	readOnlyRootFilesystem?: boolean;
	capabilities?: { add?: string[]; drop?: string[] };
	seccompProfile?: { type: string };
}

/** The Deployment every orders-like component must keep at least this many of (sweeper, relay). */
export const MIN_REPLICAS = 2;
/** The V8 heap (NODE_OPTIONS --max-old-space-size) as a share of the memory limit: about 75 %. */
export const HEAP_SHARE = { min: 0.7, max: 0.8 };
/** The ports the pods may reach, and nothing else: DNS, RabbitMQ, PostgreSQL, the OTLP collector. */
export const EGRESS_PORTS = ["UDP/53", "TCP/53", "TCP/5671", "TCP/5672", "TCP/5432", "TCP/4318"];
const COMPONENT_LABEL = "app.kubernetes.io/component";

export const deploymentsOf = (manifests: Manifest[]) => manifests.filter(m => m.kind === "Deployment");
export const podLabels = (deployment: Manifest): Labels => deployment.spec?.template?.metadata?.labels ?? {};
export const containersOf = (deployment: Manifest): Container[] => deployment.spec?.template?.spec?.containers ?? [];

/** Whether a label selector selects these labels; an empty selector selects everything. */
export function selects(selector: LabelSelector | undefined, labels: Labels): boolean {
	if (!selector) return false;
	const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
	const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
		if (operator === "In") return key in labels && values.includes(labels[key]);
		if (operator === "NotIn") return !(key in labels && values.includes(labels[key]));
		if (operator === "Exists") return key in labels;
		return !(key in labels);
	});
	return byLabels && byExpressions;
}

/** The Deployments whose pods a selector selects. */
export function selectedDeployments(manifests: Manifest[], selector: LabelSelector | undefined): Manifest[] {
	return deploymentsOf(manifests).filter(deployment => selects(selector, podLabels(deployment)));
}

/** The value of a container's literal environment variable. */
export function envValue(container: Container, name: string): string | undefined {
	return container.env?.find(variable => variable.name === name)?.value;
}

/** A named port of a container, or a number. */
function hasPort(containers: Container[], port: string | number): boolean {
	return typeof port === "number" || containers.some(container => (container.ports ?? []).some(p => p.name === port));
}

/** The Deployment an HPA or a ScaledObject scales, when it names one. */
function scaleTarget(manifest: Manifest): string | undefined {
	const ref = manifest.spec?.scaleTargetRef;
	return ref && (ref.kind ?? "Deployment") === "Deployment" ? ref.name : undefined;
}

const isAutoscaler = (m: Manifest) => m.kind === "HorizontalPodAutoscaler" || m.kind === "ScaledObject";

/** Every selector and target names pods or a Deployment that exist; named ports exist in those pods. */
export function selectorProblems(manifests: Manifest[]): string[] {
	const problems: string[] = [];
	const deploymentNames = deploymentsOf(manifests).map(d => d.metadata.name);
	for (const m of manifests) {
		const selectFails = (selector: LabelSelector | undefined) => {
			const selected = selectedDeployments(manifests, selector);
			if (selected.length === 0) problems.push(`${nameOf(m)} selects no Deployment's pods`);
			return selected;
		};
		if (m.kind === "Deployment") {
			if (!selects(m.spec?.selector, podLabels(m))) problems.push(`${nameOf(m)}: its selector does not select its own pods`);
		}
		if (m.kind === "Service") {
			const selected = selectFails({ matchLabels: m.spec?.selector });
			for (const port of m.spec?.ports ?? []) {
				for (const d of selected) if (!hasPort(containersOf(d), port.targetPort ?? port.port)) problems.push(`${nameOf(m)}: port ${port.targetPort} is not a port of ${d.metadata.name}`);
			}
		}
		if (m.kind === "PodDisruptionBudget") selectFails(m.spec?.selector);
		if (m.kind === "PodMonitor") {
			const selected = selectFails(m.spec?.selector);
			for (const endpoint of m.spec?.podMetricsEndpoints ?? []) {
				for (const d of selected) if (!hasPort(containersOf(d), endpoint.port)) problems.push(`${nameOf(m)}: port ${endpoint.port} is not a port of ${d.metadata.name}`);
			}
		}
		if (m.kind === "NetworkPolicy") {
			const selector: LabelSelector = m.spec?.podSelector ?? {};
			const everything = Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
			const selected = everything ? deploymentsOf(manifests) : selectFails(selector);
			for (const rule of m.spec?.ingress ?? []) {
				for (const port of rule.ports ?? []) {
					for (const d of selected) if (!hasPort(containersOf(d), port.port)) problems.push(`${nameOf(m)}: port ${port.port} is not a port of ${d.metadata.name}`);
				}
			}
		}
		if (isAutoscaler(m) && !deploymentNames.includes(scaleTarget(m) ?? "")) problems.push(`${nameOf(m)} scales no Deployment of k8s/ (${JSON.stringify(m.spec?.scaleTargetRef)})`);
	}
	return problems;
}

/** One autoscaler per Deployment, at least MIN_REPLICAS, and no `replicas` for `kubectl apply` to reset. */
export function autoscalerProblems(manifests: Manifest[]): string[] {
	const problems: string[] = [];
	for (const deployment of deploymentsOf(manifests)) {
		const name = deployment.metadata.name;
		const autoscalers = manifests.filter(m => isAutoscaler(m) && scaleTarget(m) === name);
		if (autoscalers.length !== 1) problems.push(`Deployment ${name} has ${autoscalers.length} autoscalers (${autoscalers.map(nameOf).join(", ") || "none"}), not one`);
		if (autoscalers.length > 0 && deployment.spec?.replicas !== undefined) problems.push(`Deployment ${name} sets replicas, which every kubectl apply would reset under its autoscaler`);
		for (const autoscaler of autoscalers) {
			const min = autoscaler.kind === "ScaledObject" ? (autoscaler.spec?.minReplicaCount ?? 0) : (autoscaler.spec?.minReplicas ?? 1);
			if (min < MIN_REPLICAS) problems.push(`${nameOf(autoscaler)} lets ${name} go down to ${min} replica(s), below ${MIN_REPLICAS}`);
		}
	}
	return problems;
}

/** One PodDisruptionBudget per Deployment: one pod at a time, an unhealthy pod always evictable. */
export function budgetProblems(manifests: Manifest[]): string[] {
	const problems: string[] = [];
	const budgets = manifests.filter(m => m.kind === "PodDisruptionBudget");
	for (const deployment of deploymentsOf(manifests)) {
		const own = budgets.filter(budget => selects(budget.spec?.selector, podLabels(deployment)));
		if (own.length !== 1) problems.push(`Deployment ${deployment.metadata.name} has ${own.length} PodDisruptionBudgets, not one`);
	}
	for (const budget of budgets) {
		const { maxUnavailable, minAvailable, unhealthyPodEvictionPolicy } = budget.spec ?? {};
		if (maxUnavailable !== 1 || minAvailable !== undefined) problems.push(`${nameOf(budget)}: maxUnavailable should be 1 (and no minAvailable), is ${maxUnavailable}`);
		if (unhealthyPodEvictionPolicy !== "AlwaysAllow") problems.push(`${nameOf(budget)}: unhealthyPodEvictionPolicy should be AlwaysAllow, is ${unhealthyPodEvictionPolicy}`);
	}
	return problems;
}

/** A reference to a key of a Secret: from a container's environment, or from KEDA's TriggerAuthentication. */
export interface SecretReference {
	from: string;
	secret: string;
	/** Undefined: the whole Secret (envFrom). */
	key?: string;
	optional: boolean;
}

export function secretReferences(manifests: Manifest[]): SecretReference[] {
	const references: SecretReference[] = [];
	for (const deployment of deploymentsOf(manifests)) {
		for (const container of containersOf(deployment)) {
			const from = `${nameOf(deployment)} container ${container.name}`;
			for (const variable of container.env ?? []) {
				const ref = variable.valueFrom?.secretKeyRef;
				if (ref) references.push({ from: `${from} ${variable.name}`, secret: ref.name, key: ref.key, optional: ref.optional === true });
			}
			for (const source of container.envFrom ?? []) {
				if (source.secretRef) references.push({ from, secret: source.secretRef.name, optional: source.secretRef.optional === true });
			}
		}
	}
	for (const auth of manifests.filter(m => m.kind === "TriggerAuthentication")) {
		for (const ref of auth.spec?.secretTargetRef ?? []) references.push({ from: `${nameOf(auth)} ${ref.parameter}`, secret: ref.name, key: ref.key, optional: false });
	}
	return references;
}

/** The keys of a Secret, `data` and `stringData` together. */
export function secretKeys(secret: Manifest): string[] {
	return [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})];
}

/** Every Secret reference names an example Secret (k8s/examples/) and, unless optional, one of its keys. */
export function secretReferenceProblems(manifests: Manifest[], examples: Manifest[]): string[] {
	const secrets = new Map(examples.filter(m => m.kind === "Secret").map(secret => [secret.metadata.name, secretKeys(secret)]));
	return secretReferences(manifests).flatMap(ref => {
		const keys = secrets.get(ref.secret);
		if (!keys) return [`${ref.from} reads the Secret ${ref.secret}, which k8s/examples/ does not show`];
		if (ref.key !== undefined && !ref.optional && !keys.includes(ref.key)) return [`${ref.from} reads the key ${ref.key}, which the example Secret ${ref.secret} does not have`];
		return [];
	});
}

/** A memory quantity in MiB ("256Mi", "1Gi", "512M", bytes). */
export function mebibytes(quantity: string): number {
	const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
	if (!match) throw new Error(`not a memory quantity: ${quantity}`);
	const factors: Record<string, number> = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
	return (Number(match[1]) * factors[match[2] ?? ""]) / 2 ** 20;
}

/** Every container: requests and limits, three probes on its own ports, the heap at ~75 % of its memory limit. */
export function containerProblems(manifests: Manifest[]): string[] {
	const problems: string[] = [];
	for (const deployment of deploymentsOf(manifests)) {
		for (const container of containersOf(deployment)) {
			const where = `${nameOf(deployment)} container ${container.name}`;
			for (const kind of ["requests", "limits"] as const) {
				for (const resource of ["cpu", "memory"]) if (!container.resources?.[kind]?.[resource]) problems.push(`${where} has no ${resource} ${kind}`);
			}
			for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"] as const) {
				const get = container[probe]?.httpGet;
				if (!get) problems.push(`${where} has no HTTP ${probe}`);
				else if (!hasPort([container], get.port)) problems.push(`${where}: the ${probe}'s port ${get.port} is not a port of the container`);
				else if (get.port === "metrics" && ![HEALTH_LIVE_PATH, HEALTH_READY_PATH].includes(get.path)) problems.push(`${where}: the ${probe} asks the metrics port for ${get.path}, which is not a health path`);
			}
			const heap = /--max-old-space-size=(\d+)/.exec(envValue(container, "NODE_OPTIONS") ?? "");
			const limit = container.resources?.limits?.memory;
			if (!heap) problems.push(`${where} sets no heap limit (NODE_OPTIONS=--max-old-space-size=…)`);
			else if (limit) {
				const share = Number(heap[1]) / mebibytes(limit);
				if (share < HEAP_SHARE.min || share > HEAP_SHARE.max) problems.push(`${where}: a heap of ${heap[1]} MiB is ${Math.round(share * 100)} % of the ${limit} limit, not about 75 %`);
			}
		}
	}
	return problems;
}

/** The `restricted` Pod Security Standard, for the namespace and every pod, and a read-only root. */
export function podSecurityProblems(manifests: Manifest[]): string[] {
	const problems: string[] = [];
	for (const namespace of manifests.filter(m => m.kind === "Namespace")) {
		for (const mode of ["enforce", "audit", "warn"]) {
			const value = namespace.metadata.labels?.[`pod-security.kubernetes.io/${mode}`];
			if (value !== "restricted") problems.push(`${nameOf(namespace)}: pod-security.kubernetes.io/${mode} is ${value}, not restricted`);
		}
	}
	for (const deployment of deploymentsOf(manifests)) {
		const pod = deployment.spec?.template?.spec ?? {};
		const podContext: SecurityContext = pod.securityContext ?? {};
		for (const field of ["hostNetwork", "hostPID", "hostIPC"]) if (pod[field]) problems.push(`${nameOf(deployment)} sets ${field}`);
		for (const volume of pod.volumes ?? []) if (volume.hostPath) problems.push(`${nameOf(deployment)} mounts the host path ${volume.hostPath.path}`);
		for (const container of [...(pod.initContainers ?? []), ...containersOf(deployment)] as Container[]) {
			const where = `${nameOf(deployment)} container ${container.name}`;
			const own = container.securityContext ?? {};
			if ((own.runAsNonRoot ?? podContext.runAsNonRoot) !== true) problems.push(`${where} may run as root (runAsNonRoot)`);
			if ((own.runAsUser ?? podContext.runAsUser) === 0) problems.push(`${where} runs as user 0`);
			const seccomp = (own.seccompProfile ?? podContext.seccompProfile)?.type;
			if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") problems.push(`${where}: seccompProfile is ${seccomp}, not RuntimeDefault`);
			if (own.allowPrivilegeEscalation !== false) problems.push(`${where} allows privilege escalation`);
			if (own.privileged) problems.push(`${where} is privileged`);
			if (!own.capabilities?.drop?.includes("ALL")) problems.push(`${where} does not drop ALL capabilities`);
			for (const added of own.capabilities?.add ?? []) if (added !== "NET_BIND_SERVICE") problems.push(`${where} adds the capability ${added}`);
			if (own.readOnlyRootFilesystem !== true) problems.push(`${where} can write its root filesystem`);
			for (const port of container.ports ?? []) if (port.hostPort) problems.push(`${where} takes the host port ${port.hostPort}`);
		}
	}
	return problems;
}

/** Every Deployment spreads its own pods over nodes and, as far as possible, zones. */
export function spreadProblems(manifests: Manifest[]): string[] {
	const problems: string[] = [];
	for (const deployment of deploymentsOf(manifests)) {
		const constraints: Array<{ topologyKey: string; whenUnsatisfiable: string; labelSelector?: LabelSelector }> = deployment.spec?.template?.spec?.topologySpreadConstraints ?? [];
		for (const key of ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]) {
			const constraint = constraints.find(c => c.topologyKey === key);
			if (!constraint) problems.push(`${nameOf(deployment)} does not spread over ${key}`);
			else if (!selects(constraint.labelSelector, podLabels(deployment)) || selectedDeployments(deploymentsOf(manifests), constraint.labelSelector).length !== 1)
				problems.push(`${nameOf(deployment)}: its spread over ${key} does not count its own pods alone`);
		}
		const zone = constraints.find(c => c.topologyKey === "topology.kubernetes.io/zone");
		if (zone && zone.whenUnsatisfiable !== "ScheduleAnyway") problems.push(`${nameOf(deployment)}: the spread over zones should be ScheduleAnyway (a cluster may have one zone)`);
	}
	return problems;
}

/** The queue-name prefix of a Moleculer namespace (the transporter's: MOL, MOL-<namespace>). */
export function queuePrefix(namespace: string | undefined): string {
	return namespace ? `MOL-${namespace}` : "MOL";
}

/** The durable event queues a service consumes (lib/contracts/events.ts, lib/transport/event-queues.ts). */
export function consumedQueues(service: string, namespace: string | undefined): string[] {
	return Object.values(Events)
		.filter(event => ConsumerGroups[event] === service)
		.map(event => eventQueueNames(queuePrefix(namespace), service, event).main)
		.sort();
}

/**
 * Each ScaledObject scales a Deployment on exactly the queues its service consumes, through the
 * management API (`protocol: http`, which counts the unacknowledged messages), at most `prefetch`
 * messages a pod, authenticated by a TriggerAuthentication of k8s/.
 */
export function queueScalerProblems(manifests: Manifest[], namespace: string | undefined, prefetch: number): string[] {
	const problems: string[] = [];
	const authentications = manifests.filter(m => m.kind === "TriggerAuthentication").map(m => m.metadata.name);
	for (const scaler of manifests.filter(m => m.kind === "ScaledObject")) {
		const deployment = deploymentsOf(manifests).find(d => d.metadata.name === scaleTarget(scaler));
		const service = deployment && containersOf(deployment).map(c => envValue(c, "SERVICES"))[0];
		if (!service) {
			problems.push(`${nameOf(scaler)} scales no Deployment with SERVICES`);
			continue;
		}
		const triggers: Array<{ type: string; metadata?: Labels; authenticationRef?: { name: string } }> = scaler.spec?.triggers ?? [];
		for (const trigger of triggers) {
			const where = `${nameOf(scaler)} trigger ${trigger.metadata?.queueName ?? trigger.type}`;
			if (trigger.type !== "rabbitmq") problems.push(`${where} is ${trigger.type}, not rabbitmq`);
			if (trigger.metadata?.protocol !== "http") problems.push(`${where}: protocol should be http (amqp counts only ready messages), is ${trigger.metadata?.protocol}`);
			if (trigger.metadata?.mode !== "QueueLength") problems.push(`${where}: mode should be QueueLength, is ${trigger.metadata?.mode}`);
			const value = Number(trigger.metadata?.value);
			if (!(value > 0 && value <= prefetch)) problems.push(`${where}: value ${trigger.metadata?.value} should be 1 to the prefetch (${prefetch}), or pods busy with their prefetch are scaled away`);
			if (!authentications.includes(trigger.authenticationRef?.name ?? "")) problems.push(`${where} authenticates with ${trigger.authenticationRef?.name}, no TriggerAuthentication of k8s/`);
		}
		const watched = triggers.map(t => t.metadata?.queueName ?? "").sort();
		const expected = consumedQueues(service, namespace);
		if (JSON.stringify(watched) !== JSON.stringify(expected)) problems.push(`${nameOf(scaler)} watches ${watched.join(", ")}; ${service} consumes ${expected.join(", ")}`);
	}
	return problems;
}

/** The `protocol/port` pairs a NetworkPolicy rule allows. */
function rulePorts(rule: { ports?: Array<{ protocol?: string; port?: string | number }> }): string[] {
	return (rule.ports ?? []).map(port => `${port.protocol ?? "TCP"}/${port.port}`);
}

/**
 * Deny by default; the api's HTTP port from one namespace (the ingress controller's), every
 * metrics port from one namespace (the monitoring); egress to EGRESS_PORTS only, each to named peers.
 */
export function networkPolicyProblems(manifests: Manifest[]): string[] {
	const problems: string[] = [];
	const policies = manifests.filter(m => m.kind === "NetworkPolicy");
	const denyAll = policies.find(p => {
		const selector = p.spec?.podSelector ?? {};
		const types: string[] = p.spec?.policyTypes ?? [];
		return Object.keys(selector).length === 0 && types.includes("Ingress") && types.includes("Egress") && !p.spec?.ingress?.length && !p.spec?.egress?.length;
	});
	if (!denyAll) problems.push("no NetworkPolicy denies all ingress and egress of the namespace by default");
	const egressPorts = new Set<string>();
	for (const policy of policies) {
		for (const rule of policy.spec?.ingress ?? []) {
			if (!rule.from?.length) problems.push(`${nameOf(policy)} lets anyone in`);
			if (!rule.ports?.length) problems.push(`${nameOf(policy)} lets in on every port`);
		}
		for (const rule of policy.spec?.egress ?? []) {
			if (!rule.to?.length) problems.push(`${nameOf(policy)} lets out to anyone`);
			if (!rule.ports?.length) problems.push(`${nameOf(policy)} lets out on every port`);
			for (const port of rulePorts(rule)) egressPorts.add(port);
		}
	}
	const unexpected = [...egressPorts].filter(port => !EGRESS_PORTS.includes(port));
	const missing = EGRESS_PORTS.filter(port => !egressPorts.has(port));
	if (unexpected.length) problems.push(`egress allowed to ${unexpected.join(", ")}, beyond DNS, RabbitMQ, PostgreSQL and OTLP`);
	if (missing.length) problems.push(`egress not allowed to ${missing.join(", ")}`);
	/** Whether some policy lets a namespace-selected peer reach this Deployment's port. */
	const reachable = (deployment: Manifest, port: string) =>
		policies.some(
			policy =>
				selects(policy.spec?.podSelector, podLabels(deployment)) &&
				(policy.spec?.ingress ?? []).some((rule: { from?: Array<{ namespaceSelector?: LabelSelector }>; ports?: Array<{ protocol?: string; port?: string | number }> }) => rule.from?.some(peer => peer.namespaceSelector) && rulePorts(rule).includes(`TCP/${port}`))
		);
	for (const deployment of deploymentsOf(manifests)) {
		if (!reachable(deployment, "metrics")) problems.push(`the metrics port of ${deployment.metadata.name} is not reachable from the monitoring namespace`);
		const component = podLabels(deployment)[COMPONENT_LABEL];
		if (component === "api" && !reachable(deployment, "http")) problems.push(`the api's http port is not reachable from the ingress controller's namespace`);
	}
	return problems;
}

/**
 * The PodMonitor scrapes every Deployment's metrics as the alerting rules expect: the job
 * `order-pipeline`, and `services` from the pod label app.kubernetes.io/component, which is each
 * Deployment's SERVICES.
 */
export function podMonitorProblems(manifests: Manifest[]): string[] {
	const problems: string[] = [];
	const monitors = manifests.filter(m => m.kind === "PodMonitor");
	for (const deployment of deploymentsOf(manifests)) {
		if (!monitors.some(monitor => selects(monitor.spec?.selector, podLabels(deployment)))) problems.push(`no PodMonitor scrapes ${nameOf(deployment)}`);
		const services = containersOf(deployment).map(c => envValue(c, "SERVICES"))[0];
		if (podLabels(deployment)[COMPONENT_LABEL] !== services) problems.push(`${nameOf(deployment)}: its pods' ${COMPONENT_LABEL} (${podLabels(deployment)[COMPONENT_LABEL]}) is not its SERVICES (${services})`);
	}
	for (const monitor of monitors) {
		for (const endpoint of monitor.spec?.podMetricsEndpoints ?? []) {
			const relabelings: Array<{ sourceLabels?: string[]; targetLabel?: string; replacement?: string }> = endpoint.relabelings ?? [];
			const services = relabelings.find(r => r.targetLabel === "services");
			if (services?.sourceLabels?.join() !== metaLabel(COMPONENT_LABEL)) problems.push(`${nameOf(monitor)}: the label services should come from ${metaLabel(COMPONENT_LABEL)}`);
			if (relabelings.find(r => r.targetLabel === "job")?.replacement !== "order-pipeline") problems.push(`${nameOf(monitor)}: the job should be order-pipeline`);
		}
	}
	return problems;
}

/** The name Prometheus's Kubernetes discovery gives a pod label. */
export function metaLabel(label: string): string {
	return `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

/** Every pod label a text relabels from (`__meta_kubernetes_pod_label_…`) is one the pods carry. */
export function podLabelReferenceProblems(where: string, text: string, manifests: Manifest[]): string[] {
	const carried = new Set(deploymentsOf(manifests).flatMap(d => Object.keys(podLabels(d)).map(metaLabel)));
	const used = new Set(text.match(/__meta_kubernetes_pod_label_[a-zA-Z0-9_]+/g) ?? []);
	return [...used].filter(label => !carried.has(label)).map(label => `${where} relabels from ${label}, a label no pod of k8s/ carries`);
}
