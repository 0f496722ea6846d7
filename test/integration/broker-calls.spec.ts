/**
 * How a node calls actions over the real RabbitMQ (lib/broker/call-middlewares.ts): an action of
 * its own process runs in-process, another node's goes over the broker, and a remote call that
 * timed out is let go, so that the node's shutdown does not wait for it.
 */
import type { ServiceBroker } from "moleculer";
import { brokerWith } from "../support/broker";
import { createTestVhost, uniqueSuffix, type TestVhost } from "../support/services";

describe("Action calls between two nodes over RabbitMQ", () => {
	let vhost: TestVhost;
	let local: ServiceBroker;
	let remote: ServiceBroker;
	const releases: Array<() => void> = [];

	const brokerFor = (nodeID: string, namespace: string) => brokerWith({ TRANSPORTER: vhost.url, NAMESPACE: namespace, NODEID: nodeID });

	const whoami = (broker: ServiceBroker) => ({
		name: "echo",
		actions: {
			whoami: {
				handler: () => broker.nodeID
			}
		}
	});

	beforeAll(async () => {
		vhost = createTestVhost();
		const namespace = `calls${uniqueSuffix()}`;
		local = brokerFor(`local-${uniqueSuffix()}`, namespace);
		remote = brokerFor(`remote-${uniqueSuffix()}`, namespace);
		local.createService(whoami(local));
		remote.createService(whoami(remote));
		remote.createService({
			name: "slow",
			actions: {
				// Answers only when the test lets it.
				wait: { handler: () => new Promise<string>(resolve => releases.push(() => resolve("late"))) },
				node: { handler: () => remote.nodeID }
			}
		});
		await Promise.all([local.start(), remote.start()]);
		await local.waitForServices(["slow"], 30_000);
	});
	afterAll(async () => {
		releases.forEach(release => release());
		await remote?.stop();
		await local?.stop().catch(() => undefined);
		await vhost?.remove();
	});

	it("should run an action of its own process in-process, though another node offers it too", async () => {
		const answers = await Promise.all(Array.from({ length: 20 }, () => local.call("echo.whoami")));
		expect(new Set(answers)).toEqual(new Set([local.nodeID]));
	});

	it("should call an action only another node has over the broker", async () => {
		expect(await local.call("slow.node")).toBe(remote.nodeID);
	});

	it("should let go of a remote call that timed out, and then stop without waiting for it", async () => {
		await expect(local.call("slow.wait", {}, { timeout: 300 })).rejects.toMatchObject({ name: "RequestTimeoutError" });

		const tracked = (local as unknown as { _trackedContexts: unknown[] })._trackedContexts;
		const pending = (local.transit as unknown as { pendingRequests: Map<string, unknown> }).pendingRequests;
		expect(tracked).toHaveLength(0);
		expect(pending.size).toBe(0);

		const started = Date.now();
		await local.stop();
		// The shutdown timeout is 10 s: a stop that waited for the call would take all of it.
		expect(Date.now() - started).toBeLessThan(5000);
	});
});
