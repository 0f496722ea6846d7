/**
 * The e2e tests' cluster: the kit's (test/support/cluster.ts) with a front (`api,orders`) and a
 * processor, and what the tests ask of it: orders posted and read, the databases' view of them,
 * the queues and connections of the test's vhost.
 */
import amqp, { type ChannelModel } from "amqplib";
import { ConsumerGroups } from "../../../lib/contracts/events";
import { eventQueueNames } from "../../../lib/transport/reliable-amqp";
import { ProductCluster } from "../../support/cluster";
import type { NodeProcess } from "../../support/processes";
import { apiFetch, closeVhostConnections, queryDatabase, uniqueSuffix, waitFor } from "../../support/services";

export interface OrderBody {
	id: string;
	status: string;
	errorMessage: string | null;
}

export type Items = Array<{ sku: string; quantity: number; unitPrice: number }>;

export class Cluster extends ProductCluster {
	amqp!: ChannelModel;
	front?: NodeProcess;
	processor?: NodeProcess;

	constructor() {
		super({ label: "e2e", env: { RETRY_BASE_DELAY_MS: "200" } });
	}

	async setUp(): Promise<void> {
		await super.setUp();
		this.amqp = await amqp.connect(this.vhost.url);
		this.amqp.on("error", () => undefined);
	}

	/** Sets up the databases and vhost, then starts the front and the processor. */
	async start(): Promise<void> {
		await this.setUp();
		await this.startFront();
		await this.startProcessor();
	}

	async tearDown(): Promise<void> {
		await this.amqp?.close().catch(() => undefined);
		await super.tearDown();
	}

	/** The environment every node of this cluster shares. */
	nodeEnv(): Record<string, string> {
		return this.env();
	}

	/**
	 * Starts `api,orders` and waits until it answers HTTP. The api listens only once the orders
	 * service of its process has started, so its first answer is already a served request.
	 */
	async startFront(extra: Record<string, string> = {}): Promise<NodeProcess> {
		const node = this.startNode("api+orders", { SERVICES: "api,orders", NODEID: `front-${uniqueSuffix()}`, ...extra });
		this.front = node;
		let first: Response | undefined;
		await waitFor("the api to answer", async () => (first = await apiFetch(`${this.baseUrl}/api/orders?pageSize=1`).catch(() => undefined)) !== undefined, 60_000, 100).catch(err => {
			throw new Error(`${err.message}\n--- api+orders output ---\n${node.output()}`);
		});
		if (first!.status !== 200) throw new Error(`The api's first answer was ${first!.status}: ${await first!.text()}\n--- output ---\n${node.output()}`);
		return node;
	}

	/** Starts `processor` and waits until the cluster is ready. */
	async startProcessor(extra: Record<string, string> = {}): Promise<NodeProcess> {
		const node = this.startNode("processor", { SERVICES: "processor", ...extra });
		this.processor = node;
		await this.waitReady();
		return node;
	}

	async post(items: Items, headers: Record<string, string> = {}): Promise<OrderBody> {
		const res = await apiFetch(`${this.baseUrl}/api/orders`, {
			method: "POST",
			headers: { "Content-Type": "application/json", ...headers },
			body: JSON.stringify({ customerId: "e2e", items, currency: "EUR" })
		});
		if (res.status !== 201) throw new Error(`POST /api/orders answered ${res.status}: ${await res.text()}`);
		return (await res.json()) as OrderBody;
	}

	/**
	 * Creates an order the way a careful client does: on a network error or a 5xx it retries with
	 * the same Idempotency-Key, which guarantees one order however many attempts it takes.
	 */
	async postReliably(items: Items, key: string, timeoutMs = 60_000): Promise<OrderBody> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			try {
				return await this.post(items, { "Idempotency-Key": key });
			} catch (err) {
				if (Date.now() > deadline) throw err;
				await new Promise(r => setTimeout(r, 200));
			}
		}
	}

	/** The order created with an Idempotency-Key, read from the orders database. */
	async orderIdByKey(key: string): Promise<string | undefined> {
		const rows = await queryDatabase<{ id: string }>(this.ordersDb.url, "SELECT id FROM orders WHERE idempotency_key = $1", [key]);
		return rows[0]?.id;
	}

	async getOrder(id: string): Promise<OrderBody> {
		return (await (await apiFetch(`${this.baseUrl}/api/orders/${id}`)).json()) as OrderBody;
	}

	/** Waits until none of the orders is pending, reading the orders database. */
	async allFinal(ids: string[], timeoutMs = 90_000): Promise<Map<string, string>> {
		return waitFor(
			`${ids.length} order(s) to finish`,
			async () => {
				const rows = await queryDatabase<{ id: string; status: string }>(this.ordersDb.url, "SELECT id, status FROM orders WHERE id = ANY($1)", [ids]);
				const statuses = new Map(rows.map(r => [r.id, r.status]));
				return ids.every(id => statuses.has(id) && statuses.get(id) !== "pending") ? statuses : null;
			},
			timeoutMs,
			250
		).catch(err => {
			throw new Error(`${err.message}\n--- front ---\n${tail(this.front?.output())}\n--- processor ---\n${tail(this.processor?.output())}`);
		});
	}

	queueName(event: keyof typeof ConsumerGroups): string {
		return eventQueueNames(`MOL-${this.namespace}`, ConsumerGroups[event], event).main;
	}

	/** Effects in the processor's database: records and reservations per order. */
	async processorEffects(ids: string[]) {
		const records = await queryDatabase<{ order_id: string; n: number; status: string }>(
			this.processorDb.url,
			"SELECT order_id, count(*)::int AS n, max(status) AS status FROM processing_records WHERE order_id = ANY($1) GROUP BY order_id",
			[ids]
		);
		const reservations = await queryDatabase<{ order_id: string; quantity: number }>(
			this.processorDb.url,
			"SELECT order_id, sum(quantity)::int AS quantity FROM stock_reservations WHERE order_id = ANY($1) GROUP BY order_id",
			[ids]
		);
		return { records, reservations: new Map(reservations.map(r => [r.order_id, r.quantity])) };
	}

	/** Closes every client connection of this test's vhost on the broker (the others are left alone). */
	closeBrokerConnections(): number {
		return closeVhostConnections(this.vhost.vhost, "e2e: broker connection cut");
	}

	/** A channel on this test's vhost, reconnecting when the broker closed the test's connection. */
	async channel() {
		try {
			return await this.amqp.createChannel();
		} catch {
			this.amqp = await amqp.connect(this.vhost.url);
			this.amqp.on("error", () => undefined);
			return this.amqp.createChannel();
		}
	}
}

/** The last lines of a process's output, for a failure message. */
function tail(output = "", lines = 60): string {
	return output.split("\n").slice(-lines).join("\n");
}
