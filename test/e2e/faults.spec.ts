/**
 * Crashes and cuts on a real two-process cluster: a process killed with -9 at the worst moment, a
 * processor killed in the middle of a stream, the broker connections cut under load. Each test
 * checks the final state of both databases: every order finished, each with one processing record,
 * stock reserved once.
 */
import { randomUUID } from "node:crypto";
import { FaultPoints } from "../../lib/fault-points";
import { apiFetch, freePort, queryDatabase, waitFor } from "../support/services";
import { startNode } from "../support/processes";
import { Cluster, type Items } from "./support/cluster";

const item = (sku: string, quantity = 1): Items => [{ sku, quantity, unitPrice: 2 }];

describe("Failures on a two-process cluster", () => {
	const cluster = new Cluster();

	/** Posts `count` orders, `concurrency` at a time, calling `during` once `at` of them are created. */
	async function stream(count: number, during: () => Promise<void>, at = Math.floor(count / 3)) {
		const orders: Array<{ id: string; quantity: number; sku: string }> = [];
		let next = 0;
		let fired: Promise<void> | undefined;
		const worker = async () => {
			while (next < count) {
				const n = next++;
				if (n === at) fired = during();
				const sku = n % 10 === 9 ? `SKU-NOPE-${n}` : `SKU-00${40 + (n % 5)}`;
				const quantity = 1 + (n % 3);
				const order = await cluster.postReliably(item(sku, quantity), `stream-${randomUUID()}`);
				orders.push({ id: order.id, quantity, sku });
			}
		};
		await Promise.all([worker(), worker(), worker(), worker()]);
		await fired;
		return orders;
	}

	/** Every order final; one processing record each; reservations only for completed orders, once. */
	async function expectSettledOnce(orders: Array<{ id: string; quantity: number; sku: string }>) {
		const ids = orders.map(o => o.id);
		const statuses = await cluster.allFinal(ids);
		const { records, reservations } = await cluster.processorEffects(ids);
		expect(records).toHaveLength(ids.length);
		expect(records.every(r => r.n === 1)).toBe(true);
		for (const order of orders) {
			const status = statuses.get(order.id);
			const record = records.find(r => r.order_id === order.id);
			if (order.sku.startsWith("SKU-NOPE")) {
				expect({ id: order.id, status }).toEqual({ id: order.id, status: "failed" });
				expect(reservations.has(order.id)).toBe(false);
			} else {
				expect({ id: order.id, status, record: record?.status }).toEqual({ id: order.id, status: "completed", record: "COMPLETED" });
				expect(reservations.get(order.id)).toBe(order.quantity);
			}
		}
	}

	beforeAll(() => cluster.start());
	afterAll(() => cluster.tearDown());

	it("should deliver an event once when orders dies between committing it and publishing it", async () => {
		await cluster.front!.stop("SIGTERM");
		const armed = await cluster.startFront({ FAULT_POINTS: FaultPoints.OutboxBeforePublish });

		// The process may die before it answers: the Idempotency-Key finds the order anyway.
		const key = `crash-${randomUUID()}`;
		await cluster.post(item("SKU-0031", 2), { "Idempotency-Key": key }).catch(() => undefined);
		expect(await armed.exitWithin(20_000)).toBeNull();
		expect(armed.child.signalCode).toBe("SIGKILL");

		const id = await cluster.orderIdByKey(key);
		expect(id).toBeDefined();
		const [row] = await queryDatabase<{ sent_at: Date | null }>(
			cluster.ordersDb.url,
			"SELECT sent_at FROM outbox_events WHERE payload->>'orderId' = $1",
			[id]
		);
		expect(row.sent_at).toBeNull();

		await cluster.startFront();
		await expectSettledOnce([{ id: id!, quantity: 2, sku: "SKU-0031" }]);
	});

	it("should change nothing twice when the processor dies after reserving and before acknowledging", async () => {
		await cluster.processor!.stop("SIGTERM");
		const armed = await cluster.startProcessor({ FAULT_POINTS: FaultPoints.ProcessorAfterCommit });

		const order = await cluster.post(item("SKU-0032", 3));
		expect(await armed.exitWithin(20_000)).toBeNull();
		const { records } = await cluster.processorEffects([order.id]);
		expect(records).toEqual([{ order_id: order.id, n: 1, status: "COMPLETED" }]);

		await cluster.startProcessor();
		await expectSettledOnce([{ id: order.id, quantity: 3, sku: "SKU-0032" }]);
	});

	it("should finish every order when the processor is killed with -9 in the middle of a stream", async () => {
		const orders = await stream(40, async () => {
			await cluster.processor!.stop("SIGKILL");
			// A second with no processor at all: the stream goes on into the queue meanwhile.
			await new Promise(r => setTimeout(r, 1000));
			await cluster.startProcessor();
		});
		await expectSettledOnce(orders);
	});

	it("should finish every order exactly once when the processor is stopped with SIGTERM in the middle of a stream", async () => {
		const orders = await stream(40, async () => {
			expect(await cluster.processor!.stop("SIGTERM")).toBe(0);
			await cluster.startProcessor();
		});
		await expectSettledOnce(orders);
	});

	it("should keep answering when one of two orders nodes is killed with -9", async () => {
		// An api-only node: it has no local orders service, so it must pick a remote one.
		const port = await freePort();
		const gateway = startNode("api", { ...cluster.nodeEnv(), SERVICES: "api", PORT: String(port), NODEID: `api-${randomUUID()}` });
		const second = startNode("orders-2", { ...cluster.nodeEnv(), SERVICES: "orders", NODEID: `orders-2-${randomUUID()}` });
		try {
			const url = `http://127.0.0.1:${port}/api/orders`;
			// Both orders nodes take requests from the api node's queue: wait until the second served one.
			await waitFor("the second orders node to serve an order", async () => {
				await apiFetch(url, {
					method: "POST",
					headers: { "Content-Type": "application/json" },
					body: JSON.stringify({ customerId: "e2e", items: item("SKU-0033"), currency: "EUR" })
				}).catch(() => null);
				return second.output().includes('"message":"Order created."');
			}, 60_000, 100);
			await second.stop("SIGKILL");

			// The api still lists the dead node until its heartbeat times out: no request may wait for it.
			const answers: number[] = [];
			for (let i = 0; i < 8; i++) {
				const res = await apiFetch(url, {
					method: "POST",
					headers: { "Content-Type": "application/json" },
					body: JSON.stringify({ customerId: "e2e", items: item("SKU-0033"), currency: "EUR" }),
					signal: AbortSignal.timeout(5000)
				}).catch(() => null);
				answers.push(res ? res.status : 0);
			}
			expect(answers).toEqual(Array(8).fill(201));
		} finally {
			await gateway.stop("SIGKILL");
			await second.stop("SIGKILL");
		}
	});

	it("should reconnect and lose nothing when the broker closes every connection under load", async () => {
		const orders = await stream(40, async () => {
			expect(cluster.closeBrokerConnections()).toBeGreaterThanOrEqual(2);
		});
		await cluster.waitReady();
		await expectSettledOnce(orders);
	});
});
