/**
 * The Kubernetes manifests as data for the deploy tests: the documents `kubectl apply -f k8s/`
 * applies and the example Secrets beside them, each with where it comes from; how to read their
 * Deployments, pods and selectors; and their validation against the Kubernetes API schemas (npm kubernetes-models, @kubernetes-models/keda,
 * @kubernetes-models/prometheus-operator), offline.
 *
 * The models are ES modules only (jest runs the tests as CommonJS): they run in one child Node
 * process, as the OpenAPI linters do (test/support/openapi-lint.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseAllDocuments } from "yaml";
import { runEsmScript } from "../../support/openapi";
import { REPO_ROOT } from "../../support/ops-pack";

export const K8S_DIR = join(REPO_ROOT, "k8s");
export const EXAMPLES_DIR = join(K8S_DIR, "examples");

/** One document of a manifest file: loosely typed, since the tests read every kind. */
export interface Manifest {
	apiVersion: string;
	kind: string;
	metadata: { name: string; namespace?: string; labels?: Record<string, string> };
	/** A dozen kinds of spec, each read by the rule about it (k8s-rules.ts): untyped here. */
	spec?: any;
	data?: Record<string, string>;
	stringData?: Record<string, string>;
	/** Where it was read: `k8s/10-api.yaml#2` (not part of the manifest; left out of the validation). */
	source: string;
}

/** The files `kubectl apply -f <dir>` reads: .json, .yaml and .yml directly in it. */
export function appliedFiles(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true })
		.filter(entry => entry.isFile() && /\.(ya?ml|json)$/.test(entry.name))
		.map(entry => join(dir, entry.name))
		.sort();
}

export function readManifests(file: string): Manifest[] {
	const where = file.slice(REPO_ROOT.length + 1);
	return parseAllDocuments(readFileSync(file, "utf8"))
		.map(doc => doc.toJS() as Omit<Manifest, "source"> | null)
		.filter((doc): doc is Omit<Manifest, "source"> => doc !== null)
		.map((doc, index) => ({ ...doc, source: `${where}#${index + 1}` }));
}

/** A manifest's name for messages: `Deployment orders (k8s/11-orders.yaml#1)`. */
export function nameOf(manifest: Manifest): string {
	return `${manifest.kind} ${manifest.metadata?.name} (${manifest.source})`;
}

// The Deployments, their pods and what selects them.

export type Labels = Record<string, string>;

export interface LabelSelector {
	matchLabels?: Labels;
	matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}

export interface Probe {
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

export interface SecurityContext {
	runAsNonRoot?: boolean;
	runAsUser?: number;
	privileged?: boolean;
	allowPrivilegeEscalation?: boolean;
	readOnlyRootFilesystem?: boolean;
	capabilities?: { add?: string[]; drop?: string[] };
	seccompProfile?: { type: string };
}


/** The pod label that names the component: each Deployment's SERVICES. */
export const COMPONENT_LABEL = "app.kubernetes.io/component";

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
export function hasPort(containers: Container[], port: string | number): boolean {
	return typeof port === "number" || containers.some(container => (container.ports ?? []).some(p => p.name === port));
}

/** The Deployment an HPA or a ScaledObject scales, when it names one. */
export function scaleTarget(manifest: Manifest): string | undefined {
	const ref = manifest.spec?.scaleTargetRef;
	return ref && (ref.kind ?? "Deployment") === "Deployment" ? ref.name : undefined;
}

export const isAutoscaler = (m: Manifest) => m.kind === "HorizontalPodAutoscaler" || m.kind === "ScaledObject";


/** What the schemas found wrong with one document; no errors: valid. */
export interface SchemaResult {
	source: string;
	errors: string[];
}

/** The npm package holding the models of an API group (the core group is `kubernetes-models`' `v1`). */
const MODEL_PACKAGES: Record<string, string> = {
	"keda.sh": "@kubernetes-models/keda",
	"monitoring.coreos.com": "@kubernetes-models/prometheus-operator"
};

const VALIDATE_SCRIPT = `
const [packagesJson] = process.argv.slice(1);
const packages = JSON.parse(packagesJson);
let text = "";
for await (const chunk of process.stdin) text += chunk;
const results = [];
for (const { source, manifest } of JSON.parse(text)) {
	const [group, version] = manifest.apiVersion?.includes("/") ? manifest.apiVersion.split("/") : ["", manifest.apiVersion];
	const root = packages[group] ?? packages["*"];
	const file = root + (group && !packages[group] ? group + "/" : "") + version + "/" + manifest.kind + ".js";
	let model;
	try {
		model = (await import(file))[manifest.kind];
	} catch {
		/* no such group, version or kind */
	}
	if (typeof model !== "function") {
		results.push({ source, errors: ["no schema for " + manifest.apiVersion + " " + manifest.kind] });
		continue;
	}
	try {
		new model(manifest).validate();
		results.push({ source, errors: [] });
	} catch (err) {
		const errors = Array.isArray(err.errors) ? err.errors.map(e => (e.instancePath || "/") + " " + e.message + (e.params?.allowedValues ? " (" + e.params.allowedValues.join(", ") + ")" : "")) : [String(err.message ?? err)];
		results.push({ source, errors });
	}
}
process.stdout.write(JSON.stringify(results));
`;

/**
 * Each document validated by the model of its apiVersion and kind (`new Deployment(doc).validate()`);
 * a kind no model package knows is an error. The schemas check types, enums and required fields;
 * like the API server's OpenAPI schemas, they let unknown fields through.
 */
export function validateAgainstSchemas(manifests: Manifest[]): Promise<SchemaResult[]> {
	const modules = (name: string) => pathToFileURL(join(REPO_ROOT, "node_modules", name)).href + "/";
	const packages: Record<string, string> = { "*": modules("kubernetes-models"), "": modules("kubernetes-models") };
	for (const [group, name] of Object.entries(MODEL_PACKAGES)) packages[group] = modules(name) + group + "/";
	const input = manifests.map(({ source, ...manifest }) => ({ source, manifest }));
	return runEsmScript<SchemaResult[]>("The Kubernetes schema validation", VALIDATE_SCRIPT, [JSON.stringify(packages)], input);
}
