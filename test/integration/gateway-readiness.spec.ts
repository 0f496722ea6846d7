/**
 * A gateway node without orders of its own (SERVICES=api) is ready only while it knows an orders
 * node: just started, or with every orders node gone, it could take no order, and a load balancer
 * must not send it any. The metrics port says why; the public answer only that it is not ready.
 */
import type { ServiceBroker } from "moleculer";
import type { ReadinessReport } from "../../lib/health/readiness";
import { startSystem, type RunningSystem } from "../support/system";
import { brokerWith } from "../support/broker";
import { createTestVhost, uniqueSuffix, waitFor, type TestVhost } from "../support/services";

describe("Readiness of a gateway without orders of its own", () => {
	let vhost: TestVhost;
	let gateway: RunningSystem;
	let ordersNode: ServiceBroker | undefined;
	const namespace = `ready${uniqueSuffix()}`;

	/** The detailed answer of the gateway's metrics port, and the public answer's status. */
	const ready = async () => {
		const res = await fetch(`${gateway.metricsBaseUrl}/health/ready`);
		const { checks } = (await res.json()) as ReadinessReport;
		const publicStatus = (await gateway.anonymous().get("/api/health/ready")).status;
		return { status: res.status, publicStatus, checks };
	};

	beforeAll(async () => {
		vhost = createTestVhost();
		gateway = await startSystem({ services: ["api"], env: { TRANSPORTER: vhost.url, NAMESPACE: namespace, METRICS_PORT: "0" } });
	});
	afterAll(async () => {
		await ordersNode?.stop();
		await gateway?.stop();
		await vhost?.remove();
	});

	it("should be unready, saying why, while no orders node is known", async () => {
		const answer = await ready();
		expect([answer.status, answer.publicStatus]).toEqual([503, 503]);
		expect(answer.checks).toMatchObject({ broker: "ok", ordersService: "no orders node is known" });
	});

	it("should be ready once an orders node joins, and unready again when it leaves", async () => {
		ordersNode = brokerWith({ TRANSPORTER: vhost.url, NAMESPACE: namespace, NODEID: `orders-${uniqueSuffix()}` });
		ordersNode.createService({ name: "orders", actions: { create: { handler: () => ({}) } } });
		await ordersNode.start();

		await waitFor("the gateway to be ready", async () => (await ready()).publicStatus === 200, 30_000, 100);
		expect((await ready()).checks).toEqual({ broker: "ok", ordersService: "ok" });

		await ordersNode.stop();
		ordersNode = undefined;
		await waitFor("the gateway to be unready", async () => (await ready()).publicStatus === 503, 30_000, 100);
	});
});
