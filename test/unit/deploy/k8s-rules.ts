/**
 * Our own rules for the workloads of k8s/, beyond the API schemas: what points at a Deployment finds
 * its pods, each Deployment has one autoscaler and one budget, every container is bounded, probed
 * and restricted, every Secret it reads has an example. Each rule returns the problems it finds,
 * one sentence each; none is a pass. Pure functions of the manifests, so that the tests can feed
 * them a broken copy and see each rule fail. What the pods connect to: k8s-wiring-rules.ts.
 */
import { HEALTH_LIVE_PATH, HEALTH_READY_PATH } from "../../../lib/health/health-endpoints";
import {
	containersOf,
	deploymentsOf,
	envValue,
	hasPort,
	isAutoscaler,
	nameOf,
	podLabels,
	scaleTarget,
	selectedDeployments,
	selects,
	type Container,
	type LabelSelector,
	type Manifest,
	type SecurityContext
} from "./k8s-manifests";

/**
 * The fewest replicas an autoscaler may leave a Deployment: orders runs the expiry sweeper and the
 * outbox relay, and over a single pod a budget of one lets a drain stop the component.
 */
export const MIN_REPLICAS = 2;
/** The V8 heap (NODE_OPTIONS --max-old-space-size) as a share of the memory limit: about 75 %. */
export const HEAP_SHARE = { min: 0.7, max: 0.8 };

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

