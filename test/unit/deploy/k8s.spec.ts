/**
 * The Kubernetes manifests: what `kubectl apply -f k8s/` applies (the files directly in k8s/, not
 * its subfolders) holds no Secret with a usable value, every Deployment takes the cluster key and
 * every other credential from the Secret, and the example Secret outside that folder has every key
 * the Deployments read, each a placeholder the product refuses.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "../../support/ops-pack";

const K8S = join(REPO_ROOT, "k8s");
const SECRET_NAME = "order-pipeline-secrets";
/** Variables that carry credentials or keys: never a literal in a manifest, never in the ConfigMap. */
const SECRET_VARIABLES = ["TRANSPORTER", "CLUSTER_SECRET", "CLUSTER_SECRET_PREVIOUS", "JWT_SECRET", "ORDERS_DATABASE_URL", "PROCESSOR_DATABASE_URL", "RATE_LIMIT_DATABASE_URL"];

interface Manifest {
	apiVersion: string;
	kind: string;
	metadata: { name: string; namespace?: string };
	data?: Record<string, string>;
	stringData?: Record<string, string>;
	spec?: { template?: { spec?: { containers?: Container[] } } };
}

interface EnvVar {
	name: string;
	value?: string;
	valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: unknown; fieldRef?: unknown };
}

interface Container {
	name: string;
	env?: EnvVar[];
	envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
}

/** The files `kubectl apply -f <dir>` reads: .json, .yaml and .yml directly in it. */
function applied(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true })
		.filter(entry => entry.isFile() && /\.(ya?ml|json)$/.test(entry.name))
		.map(entry => join(dir, entry.name))
		.sort();
}

function manifests(file: string): Manifest[] {
	return parseAllDocuments(readFileSync(file, "utf8"))
		.map(doc => doc.toJS() as Manifest | null)
		.filter((doc): doc is Manifest => doc !== null);
}

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

const appliedFiles = applied(K8S);
const appliedManifests = appliedFiles.flatMap(manifests);
const deployments = appliedManifests.filter(doc => doc.kind === "Deployment");
const containers = deployments.flatMap(deployment => (deployment.spec?.template?.spec?.containers ?? []).map(container => ({ deployment: deployment.metadata.name, container })));
const example = manifests(join(K8S, "examples", "secret.example.yaml"));

describe("What kubectl apply -f k8s/ applies", () => {
	it("should be the namespace, the ConfigMap and the three Deployments", () => {
		expect(appliedFiles.map(file => file.slice(K8S.length + 1))).toEqual(["00-namespace.yaml", "01-configmap.yaml", "10-api.yaml", "11-orders.yaml", "12-processor.yaml"]);
		expect(deployments.map(deployment => deployment.metadata.name).sort()).toEqual(["api", "orders", "processor"]);
	});

	it("should hold no Secret with a usable value", () => {
		for (const secret of appliedManifests.filter(doc => doc.kind === "Secret")) {
			for (const [key, value] of Object.entries(secretValues(secret))) {
				expect({ secret: secret.metadata.name, key, placeholder: isPlaceholder(value) }).toEqual({ secret: secret.metadata.name, key, placeholder: true });
			}
		}
	});

	it("should keep credentials and keys out of the ConfigMap", () => {
		const configMaps = appliedManifests.filter(doc => doc.kind === "ConfigMap");
		expect(configMaps.length).toBeGreaterThan(0);
		for (const configMap of configMaps) for (const name of SECRET_VARIABLES) expect({ configMap: configMap.metadata.name, has: name in (configMap.data ?? {}) }).toEqual({ configMap: configMap.metadata.name, has: false });
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

describe("The example Secret (k8s/examples/secret.example.yaml)", () => {
	it("should be the Secret the Deployments read, with every key they need", () => {
		expect(example).toHaveLength(1);
		const [secret] = example;
		expect({ kind: secret.kind, name: secret.metadata.name, namespace: secret.metadata.namespace }).toEqual({ kind: "Secret", name: SECRET_NAME, namespace: "order-pipeline" });
		const required = new Set(
			containers.flatMap(({ container }) => (container.env ?? []).flatMap(variable => (variable.valueFrom?.secretKeyRef && !variable.valueFrom.secretKeyRef.optional ? [variable.valueFrom.secretKeyRef.key] : [])))
		);
		expect(required).toContain("CLUSTER_SECRET");
		expect(Object.keys(secretValues(secret)).sort()).toEqual([...required].sort());
	});

	it("should hold only placeholders the product refuses", () => {
		for (const [key, value] of Object.entries(secretValues(example[0]))) expect({ key, placeholder: isPlaceholder(value) }).toEqual({ key, placeholder: true });
	});
});

describe("k8s/README.md", () => {
	const guide = readFileSync(join(K8S, "README.md"), "utf8");

	it("should create the Secret with fresh random keys, CLUSTER_SECRET among them", () => {
		expect(guide).toContain("kubectl -n order-pipeline create secret generic order-pipeline-secrets");
		expect(guide).toContain('--from-literal=CLUSTER_SECRET="$(openssl rand -hex 32)"');
		expect(guide).toContain('--from-literal=JWT_SECRET="$(openssl rand -hex 32)"');
	});

	it("should apply k8s/ without -R, and list the example as not applied", () => {
		expect(guide).toContain("kubectl apply -f k8s/");
		expect(guide).not.toMatch(/kubectl apply[^\n]*(-R|--recursive)/);
		expect(guide).not.toMatch(/kubectl apply[^\n]*examples/);
	});
});
