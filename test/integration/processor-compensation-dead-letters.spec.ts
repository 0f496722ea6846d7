/**
 * A compensation that cannot run: the processor's database goes away (a TCP proxy cuts it) while an
 * `order.cancelled` waits, the event is retried, then dead-lettered; once the database is back, a
 * replay through the dead-letter service releases the stock and answers `order.compensated` once.
 */
import { randomUUID } from "node:crypto";
import type { DeadLetterView } from "../../lib/contracts/dead-letters";
import type { HistoryEntry } from "../../lib/contracts/history";
import { orderCancelled, orderCreated, startProcessorNode, type ProcessorNode } from "../support/processor-node";
import { createTestDatabase, createTestVhost, queryDatabase, waitFor, type TestDatabase, type TestVhost } from "../support/services";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

const MAX_ATTEMPTS = 3;

describe("A dead-lettered compensation", () => {
	let vhost: TestVhost;
	let db: TestDatabase;
	let proxy: TcpProxy;
	let node: ProcessorNode;

	/** Straight to the database, past the proxy. */
	const query = <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => queryDatabase<T>(db.url, sql, values);
	const statusOf = async (orderId: string) =>
		(await query<{ status: string }>("SELECT status FROM processing_records WHERE order_id = $1", [orderId]))[0]?.status;
	const stockOf = async (sku: string) =>
		(await query<{ available: number; reserved: number }>("SELECT available, reserved FROM stock WHERE sku = $1", [sku]))[0];
	const deadLettersOf = (orderId: string) =>
		node.broker.call<{ rows: DeadLetterView[]; count: number }, { orderId: string }>("deadLetters.list", { orderId });

	beforeAll(async () => {
		vhost = createTestVhost();
		db = await createTestDatabase("dl_compensation");
		const target = new URL(db.url);
		proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
		const viaProxy = new URL(db.url);
		viaProxy.hostname = "127.0.0.1";
		viaProxy.port = String(proxy.port);
		node = await startProcessorNode(
			{
				TRANSPORTER: vhost.url,
				PROCESSOR_DATABASE_URL: viaProxy.toString(),
				RETRY_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
				RETRY_BASE_DELAY_MS: "200"
			},
			{ deadLetters: true }
		);
	});

	afterAll(async () => {
		await node?.stop();
		await proxy?.close();
		await vhost?.remove();
		await db?.drop();
	});

	it("should be retried, dead-lettered while the database is away, and complete once replayed", async () => {
		const orderId = randomUUID();
		await node.broker.call("processor.setStock", { sku: "DL-COMP-1", available: 10 });
		await node.send(orderCreated(orderId, [{ sku: "DL-COMP-1", quantity: 4 }]));
		await waitFor(`order ${orderId} to complete`, async () => (await statusOf(orderId)) === "COMPLETED");

		proxy.down();
		const refusedBefore = proxy.refused();
		const cancel = orderCancelled(orderId, "cancelled", "no longer needed");
		await node.send(cancel);

		const dead = await waitFor(`the dead letter of the cancellation of ${orderId}`, async () => (await deadLettersOf(orderId)).rows[0], 30_000, 200);
		expect(dead).toMatchObject({ event: "order.cancelled", group: "processor", attempts: MAX_ATTEMPTS, orderId, correlationId: cancel.correlationId });
		expect(dead.payload).toEqual(cancel);
		// Every attempt went to the database: each later one was refused a connection (the first may
		// have failed instead on a pooled connection the proxy cut as it went down).
		expect(proxy.refused()).toBeGreaterThanOrEqual(refusedBefore + MAX_ATTEMPTS - 1);
		// Nothing of the compensation was applied: it is one transaction.
		expect(await statusOf(orderId)).toBe("COMPLETED");
		expect(await stockOf("DL-COMP-1")).toEqual({ available: 6, reserved: 4 });
		expect(await query("SELECT * FROM outbox_events WHERE event_name = 'order.compensated'")).toEqual([]);

		proxy.up();
		const replayed = await node.broker.call<DeadLetterView, { id: string }>("deadLetters.replay", { id: dead.id });
		expect(replayed).toMatchObject({ id: dead.id, orderId });

		await waitFor(`order ${orderId} to be compensated after the replay`, async () => (await statusOf(orderId)) === "COMPENSATED", 30_000, 200);
		expect(await stockOf("DL-COMP-1")).toEqual({ available: 10, reserved: 0 });
		expect(await query("SELECT kind, quantity, event_id FROM stock_movements WHERE order_id = $1 AND kind = 'release'", [orderId])).toEqual([
			{ kind: "release", quantity: 4, event_id: cancel.eventId }
		]);
		const answers = await query<{ payload: Record<string, unknown> }>(
			"SELECT payload FROM outbox_events WHERE event_name = 'order.compensated' AND payload->>'orderId' = $1",
			[orderId]
		);
		expect(answers.map(a => a.payload)).toEqual([
			expect.objectContaining({ cause: "cancelled", correlationId: cancel.correlationId, released: [{ sku: "DL-COMP-1", quantity: 4 }] })
		]);
		expect((await deadLettersOf(orderId)).count).toBe(0);
		const history = await node.broker.call<HistoryEntry[], { orderId: string }>("processor.history", { orderId });
		expect(history.map(e => e.step)).toEqual(["order.created received", "stock reserved", "order.cancelled received", "compensated"]);
	});
});
