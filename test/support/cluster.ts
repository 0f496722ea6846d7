/**
 * A cluster of the product's own processes over a RabbitMQ vhost and two PostgreSQL databases made
 * for it and removed with it: the one harness the e2e tests (test/e2e/support/cluster.ts), the bench
 * (bench/product.ts) and the chaos run (scripts/chaos/cluster.ts) start the product with.
 */
import { startNode, type NodeOptions, type NodeProcess } from "./processes";
import {
	LOCAL_CLUSTER_SECRET,
	apiFetch,
	createOwnVhost,
	createTestDatabase,
	createTestVhost,
	freePort,
	uniqueSuffix,
	waitFor,
	type TestDatabase,
	type TestVhost
} from "./services";

export interface ClusterOptions {
	/** Names the databases, the namespace and the node ids: `e2e`, `bench`, `chaos`. */
	label: string;
	/** Variables of every node, on top of the cluster's own (its databases, vhost, namespace, secret). */
	env?: Record<string, string>;
	/**
	 * Fail when rabbitmqctl cannot make a vhost, rather than share the default one: the bench and the
	 * chaos run must leave no queues behind and close only their own connections.
	 */
	ownVhost?: boolean;
}

/** `env` of {@link ProductCluster.startNode}: SERVICES is required, NODEID and PORT have defaults. */
export type NodeEnv = Record<string, string> & { SERVICES: string };

export class ProductCluster {
	readonly namespace: string;
	vhost!: TestVhost;
	ordersDb!: TestDatabase;
	processorDb!: TestDatabase;
	/** The port of the node that runs the api, and its address. */
	port = 0;
	baseUrl = "";
	/** Every node started through {@link startNode}, running or not. */
	readonly nodes: NodeProcess[] = [];

	constructor(private readonly options: ClusterOptions) {
		this.namespace = `${options.label}${uniqueSuffix()}`;
	}

	/** Makes the vhost and the two databases, and picks the api's port; on failure removes what it made. */
	async setUp(): Promise<void> {
		const { label, ownVhost } = this.options;
		try {
			this.vhost = ownVhost ? createOwnVhost() : createTestVhost();
			[this.ordersDb, this.processorDb] = await Promise.all([createTestDatabase(`${label}_orders`), createTestDatabase(`${label}_processor`)]);
			this.port = await freePort();
			this.baseUrl = `http://127.0.0.1:${this.port}`;
		} catch (err) {
			await this.removeResources();
			throw err;
		}
	}

	/** SIGKILLs the nodes still running, then removes the vhost and the databases. */
	async tearDown(): Promise<void> {
		await Promise.all(this.nodes.map(node => node.stop("SIGKILL")));
		await this.removeResources();
	}

	/** The variables of a node of this cluster, `extra` on top. */
	env(extra: Record<string, string> = {}): Record<string, string> {
		return {
			TRANSPORTER: this.vhost.url,
			CLUSTER_SECRET: LOCAL_CLUSTER_SECRET,
			NAMESPACE: this.namespace,
			ORDERS_DATABASE_URL: this.ordersDb.url,
			PROCESSOR_DATABASE_URL: this.processorDb.url,
			...this.options.env,
			...extra
		};
	}

	/**
	 * Starts one node running `env.SERVICES`, named `<name>-<unique suffix>` unless `env` names it;
	 * a node with the api listens on the cluster's port unless `env` says another.
	 */
	startNode(name: string, env: NodeEnv, options: NodeOptions = {}): NodeProcess {
		const withApi = env.SERVICES.split(",").map(s => s.trim()).includes("api");
		const node = startNode(
			name,
			this.env({ NODEID: `${name}-${uniqueSuffix()}`, ...(withApi ? { PORT: String(this.port) } : {}), ...env }),
			options
		);
		this.nodes.push(node);
		return node;
	}

	/** Waits until the cluster serves (see {@link waitReady}); by default watches the nodes that run now. */
	waitReady(processes: NodeProcess[] = this.nodes.filter(node => node.running()), timeoutMs = 60_000): Promise<void> {
		return waitReady(this.baseUrl, processes, timeoutMs);
	}

	private async removeResources(): Promise<void> {
		await this.vhost?.remove();
		await Promise.all([this.ordersDb?.drop(), this.processorDb?.drop()]);
	}
}

/**
 * Waits until the api at `baseUrl` is ready and a processor answers through it (readiness is the
 * front's own; the stock answer says a processor is there too). Fails early, with their output,
 * when one of `processes` exits meanwhile.
 */
export async function waitReady(baseUrl: string, processes: NodeProcess[], timeoutMs = 60_000): Promise<void> {
	let lastAnswer = "";
	const fail = (message: string) => {
		const outputs = processes.map(p => `--- ${p.name} ---\n${p.output().slice(-3000)}`).join("\n");
		return new Error(`${message}\nlast answer: ${lastAnswer}\n${outputs}`);
	};
	const outcome = await waitFor(
		"the product to be ready",
		// A process gone is an answer, not a failed probe: waitFor would poll on.
		async (): Promise<{ exited?: NodeProcess } | undefined> => {
			const exited = processes.find(p => !p.running());
			if (exited) return { exited };
			for (const path of ["/api/health/ready", "/api/admin/stock/SKU-0001"]) {
				const res = await apiFetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(5000) });
				lastAnswer = `${path}: ${res.status} ${await res.text()}`;
				if (res.status !== 200) return undefined;
			}
			return {};
		},
		timeoutMs,
		200
	).catch(err => {
		throw fail((err as Error).message);
	});
	if (outcome.exited) throw fail(`process '${outcome.exited.name}' exited before the product was ready`);
}
