/**
 * Requests balanced by availability over the real RabbitMQ: an action's shared queue is consumed on
 * a channel of its own with a small prefetch (REQUEST_PREFETCH), so a node busy with a slow call
 * takes no more requests while another node is free — Moleculer's e2e scenario "balance action
 * calls based on availability" — and many concurrent requests still complete quickly.
 */
import amqp, { type ChannelModel } from "amqplib";
import type { Context, ServiceBroker } from "moleculer";
import { brokerWith } from "../support/broker";
import { createTestVhost, uniqueSuffix, waitFor, type TestVhost } from "../support/services";

interface HelloParams {
	i: number;
	delay: number;
}

/** A caller and two nodes that serve `test.hello` (it waits `delay` ms, then says which node ran it). */
interface Cluster {
	caller: ServiceBroker;
	nodes: ServiceBroker[];
	calls: Array<{ i: number; nodeID: string }>;
	stop(): Promise<void>;
}

describe("Test balanced requests against RabbitMQ", () => {
	let vhost: TestVhost;
	let connection: ChannelModel;

	/** The consumers RabbitMQ counts on a queue; 0 while it does not exist (Moleculer declares it once its services started). */
	const consumersOf = async (queue: string): Promise<number> => {
		const channel = await connection.createChannel();
		channel.on("error", () => undefined);
		try {
			return (await channel.checkQueue(queue)).consumerCount;
		} catch {
			return 0;
		} finally {
			await channel.close().catch(() => undefined);
		}
	};

	/** Starts a cluster in its own namespace, with the given REQUEST_PREFETCH, once both nodes consume the action's queue. */
	const startCluster = async (requestPrefetch: string | undefined): Promise<Cluster> => {
		const namespace = `rb${uniqueSuffix()}`;
		const env = (nodeID: string) => ({
			TRANSPORTER: vhost.url,
			NAMESPACE: namespace,
			NODEID: nodeID,
			...(requestPrefetch ? { REQUEST_PREFETCH: requestPrefetch } : {})
		});
		const calls: Cluster["calls"] = [];
		const nodes = ["node-a", "node-b"].map(name => {
			const node = brokerWith(env(`${name}-${namespace}`));
			node.createService({
				name: "test",
				actions: {
					async hello(ctx: Context<HelloParams>) {
						calls.push({ i: ctx.params.i, nodeID: node.nodeID });
						await new Promise(resolve => setTimeout(resolve, ctx.params.delay));
						return node.nodeID;
					}
				}
			});
			return node;
		});
		const caller = brokerWith(env(`caller-${namespace}`));
		await Promise.all([...nodes, caller].map(b => b.start()));
		await waitFor("both nodes to consume the action's queue", async () => (await consumersOf(`MOL-${namespace}.REQB.test.hello`)) === 2);
		await caller.waitForServices("test");
		return { caller, nodes, calls, stop: () => Promise.all([caller, ...nodes].map(b => b.stop())).then(() => undefined) };
	};

	/** One 2 s call and eight 50 ms calls at once, as Moleculer's scenario: how many the slow call's node took. */
	const slowNodeShare = async (cluster: Cluster): Promise<number> => {
		await Promise.all([
			cluster.caller.call("test.hello", { i: 0, delay: 2000 }),
			...Array.from({ length: 8 }, (_, i) => cluster.caller.call("test.hello", { i: i + 1, delay: 50 }))
		]);
		expect(cluster.calls).toHaveLength(9);
		const slowNode = cluster.calls.find(c => c.i === 0)!.nodeID;
		return cluster.calls.filter(c => c.nodeID === slowNode).length;
	};

	/** How long `count` concurrent calls of a `delay` ms action take, in ms. */
	const burst = async (cluster: Cluster, count: number, delay: number): Promise<number> => {
		const started = performance.now();
		await Promise.all(Array.from({ length: count }, (_, i) => cluster.caller.call("test.hello", { i, delay })));
		return performance.now() - started;
	};

	beforeAll(async () => {
		vhost = createTestVhost();
		connection = await amqp.connect(vhost.url);
	});

	afterAll(async () => {
		await connection?.close();
		await vhost?.remove();
	});

	describe("When one node is busy with a slow call", () => {
		it("should send the other calls to the free node: the slow node takes 1 of 9 (with the default REQUEST_PREFETCH)", async () => {
			const cluster = await startCluster(undefined);
			try {
				expect(await slowNodeShare(cluster)).toBe(1);
			} finally {
				await cluster.stop();
			}
		});

		it("should have sent the slow node its share regardless with the event prefetch of 16 (the behaviour this replaces)", async () => {
			const cluster = await startCluster("16");
			try {
				const share = await slowNodeShare(cluster);
				process.stdout.write(`REQUEST_PREFETCH=16: the slow node took ${share} of 9\n`);
				expect(share).toBeGreaterThan(2);
			} finally {
				await cluster.stop();
			}
		});
	});

	describe("When a node's services change", () => {
		it("should keep one consumer per node on an action's queue (Moleculer subscribes again on every change)", async () => {
			const cluster = await startCluster(undefined);
			try {
				const namespace = cluster.caller.namespace;
				await cluster.nodes[0].createService({ name: "extra", actions: { ping: () => "pong" } });
				await waitFor("the new action's queue to be consumed", async () => (await consumersOf(`MOL-${namespace}.REQB.extra.ping`)) === 1);
				expect(await consumersOf(`MOL-${namespace}.REQB.test.hello`)).toBe(2);
			} finally {
				await cluster.stop();
			}
		});
	});

	describe("When 500 requests arrive at once", () => {
		// Measured 585 ms against 150 ms (docs/queues.md); one prefetch of 1 for events and requests took 64 times as long.
		it("should answer them all, in less than ten times what they take with a prefetch of 16", async () => {
			const one = await startCluster(undefined);
			let withOne: number;
			try {
				await burst(one, 50, 0); // warm-up: the first calls open channels and fill caches
				withOne = await burst(one, 500, 0);
			} finally {
				await one.stop();
			}
			const sixteen = await startCluster("16");
			let withSixteen: number;
			try {
				await burst(sixteen, 50, 0);
				withSixteen = await burst(sixteen, 500, 0);
			} finally {
				await sixteen.stop();
			}
			process.stdout.write(`500 concurrent requests, 2 nodes: REQUEST_PREFETCH=1 ${withOne.toFixed(0)} ms, 16 ${withSixteen.toFixed(0)} ms\n`);
			expect(one.calls.length).toBe(550);
			expect(withOne).toBeLessThan(withSixteen * 10);
		});
	});
});
