/**
 * Our own rules for what the pods of k8s/ connect to: the queues KEDA watches are the ones the
 * product declares, the network policies let in and out only what the nodes need, and Prometheus
 * scrapes them with the labels the alerting rules expect. As in k8s-rules.ts, each rule returns
 * the problems it finds, one sentence each.
 */
import { ConsumerGroups, Events } from "../../../lib/contracts/events";
import { eventQueueNames } from "../../../lib/transport/event-queues";
import { COMPONENT_LABEL, containersOf, deploymentsOf, envValue, nameOf, podLabels, scaleTarget, selects, type Labels, type LabelSelector, type Manifest } from "./k8s-manifests";

/** The ports the pods may reach, and nothing else: DNS, RabbitMQ, PostgreSQL, the OTLP collector. */
export const EGRESS_PORTS = ["UDP/53", "TCP/53", "TCP/5671", "TCP/5672", "TCP/5432", "TCP/4318"];

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
			if (trigger.metadata?.excludeUnacknowledged === "true") problems.push(`${where} leaves the unacknowledged messages out (excludeUnacknowledged)`);
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
