/**
 * The health of a node without the api (orders only, processor only) on its metrics port, with the
 * real PostgreSQL and RabbitMQ each behind a TCP proxy the test cuts: `/health/ready` turns 503 and
 * names the failing check while its database or its broker is out of reach, and is 200 again once
 * it is back; `/health/live` stays 200 throughout, since restarting the pod would mend neither.
 */
import type { ReadinessReport } from "../../lib/health/readiness";
import { startSystem, type RunningSystem } from "../support/system";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";
import { ADMIN_DATABASE_URL, createTestDatabase, createTestVhost, uniqueSuffix, waitFor, type TestDatabase, type TestVhost } from "../support/services";

/** `url` with its host and port replaced by the proxy's. */
function through(proxy: TcpProxy, url: string): string {
	const proxied = new URL(url);
	proxied.hostname = "127.0.0.1";
	proxied.port = String(proxy.port);
	return proxied.toString();
}

async function proxyTo(url: string, defaultPort: number): Promise<TcpProxy> {
	const target = new URL(url);
	return startTcpProxy(target.hostname, Number(target.port || defaultPort));
}

describe.each([
	{ role: "orders" as const, databaseVariable: "ORDERS_DATABASE_URL" },
	{ role: "processor" as const, databaseVariable: "PROCESSOR_DATABASE_URL" }
])("Health on the metrics port of a node running only $role, with its database and broker cut", ({ role, databaseVariable }) => {
	let database: TestDatabase;
	let vhost: TestVhost;
	let databaseProxy: TcpProxy;
	let brokerProxy: TcpProxy;
	let node: RunningSystem;
	const databaseCheck = `${role}Database`;

	const live = async () => (await fetch(`${node.metricsBaseUrl}/health/live`)).status;
	const ready = async () => {
		const res = await fetch(`${node.metricsBaseUrl}/health/ready`);
		return { status: res.status, body: (await res.json()) as ReadinessReport & { detail?: string } };
	};
	/** The readiness answer once `accept` takes it (readiness is cached for a second). */
	const readyWhen = (what: string, accept: (answer: Awaited<ReturnType<typeof ready>>) => boolean) =>
		waitFor(what, async () => {
			const answer = await ready();
			return accept(answer) ? answer : undefined;
		}, 30_000);

	beforeAll(async () => {
		[database, vhost] = await Promise.all([createTestDatabase(`health_${role}`), createTestVhost()]);
		[databaseProxy, brokerProxy] = await Promise.all([proxyTo(ADMIN_DATABASE_URL, 5432), proxyTo(vhost.url, 5672)]);
		node = await startSystem({
			services: [role],
			env: {
				TRANSPORTER: through(brokerProxy, vhost.url),
				NAMESPACE: `health${uniqueSuffix()}`,
				[databaseVariable]: through(databaseProxy, database.url),
				METRICS_PORT: "0"
			}
		});
	});

	afterAll(async () => {
		databaseProxy?.up();
		brokerProxy?.up();
		await node?.stop();
		await Promise.all([databaseProxy?.close(), brokerProxy?.close()]);
		await vhost?.remove();
		await database?.drop();
	});

	it("should be ready, with its database, its outbox and the broker ok", async () => {
		const answer = await readyWhen("the node to be ready", a => a.status === 200);
		expect(answer.body.checks).toEqual({ [databaseCheck]: "ok", [`${role}Outbox`]: "ok", broker: "ok" });
		expect(await live()).toBe(200);
	});

	it("should be unready, naming its database, while the database is out of reach, and live all along", async () => {
		databaseProxy.down();
		try {
			const answer = await readyWhen("readiness to see the database gone", a => a.status === 503);
			expect(answer.body.checks[databaseCheck]).toMatch(/^unavailable \(/);
			expect(answer.body.checks.broker).toBe("ok");
			expect(answer.body.detail).toContain(`${databaseCheck} unavailable`);
			expect(await live()).toBe(200);
		} finally {
			databaseProxy.up();
		}
		await readyWhen("readiness to come back with the database", a => a.status === 200);
		expect(await live()).toBe(200);
	});

	it("should be unready, naming the broker, while the broker connection is cut, and live all along", async () => {
		brokerProxy.down();
		try {
			const answer = await readyWhen("readiness to see the broker gone", a => a.status === 503);
			expect(answer.body.checks).toMatchObject({ broker: "disconnected", [databaseCheck]: "ok" });
			expect(answer.body.detail).toContain("broker disconnected");
			expect(await live()).toBe(200);
		} finally {
			brokerProxy.up();
		}
		// The transporter connects again by itself.
		const back = await readyWhen("readiness to come back with the broker", a => a.status === 200);
		expect(back.body.checks.broker).toBe("ok");
		expect(await live()).toBe(200);
	});
});
