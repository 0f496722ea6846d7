/**
 * The processor's side of the saga on the real RabbitMQ and PostgreSQL: a node that runs only the
 * processor receives `order.created` and `order.cancelled` through their durable queues, in any
 * order and any number of times, and leaves the stock, its ledger, the processing records, the
 * `order.compensated` answers and the history as the state machine says.
 */
import { randomUUID } from "node:crypto";
import type { OrderCancelledEvent, OrderCreatedEvent, ReleasedLine } from "../../lib/contracts/events";
import type { HistoryEntry } from "../../lib/contracts/history";
import { orderCancelled, orderCreated, startProcessorNode, type ProcessorNode } from "../support/processor-node";
import { createTestDatabase, createTestVhost, queryDatabase, waitFor, type TestDatabase, type TestVhost } from "../support/services";

describe("The processor's side of the saga", () => {
	let vhost: TestVhost;
	let db: TestDatabase;
	let node: ProcessorNode;

	const query = <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => queryDatabase<T>(db.url, sql, values);
	const history = (orderId: string) => node.broker.call<HistoryEntry[], { orderId: string }>("processor.history", { orderId });
	const recordOf = async (orderId: string) =>
		(await query<{ status: string; cancelled: boolean }>(
			"SELECT status, cancelled_at IS NOT NULL AS cancelled FROM processing_records WHERE order_id = $1",
			[orderId]
		))[0];
	const stockOf = async (sku: string) => node.broker.call("processor.getStock", { sku });
	const setStock = (sku: string, available: number) => node.broker.call("processor.setStock", { sku, available });
	const outboxOf = (orderId: string, event: string) =>
		query<{ payload: Record<string, unknown>; meta: Record<string, unknown> }>(
			"SELECT payload, meta FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2 ORDER BY id",
			[event, orderId]
		);
	const movementsOf = (orderId: string) =>
		query("SELECT sku, kind, quantity, event_id FROM stock_movements WHERE order_id = $1 ORDER BY id", [orderId]);
	/** Sends an event and waits until the processor has handled it (every handling adds to the history). */
	const deliver = async (event: OrderCreatedEvent | OrderCancelledEvent) => {
		const before = (await history(event.orderId)).length;
		await node.send(event);
		await waitFor(`'${event.eventId}' of order ${event.orderId} to be handled`, async () => (await history(event.orderId)).length > before);
	};

	beforeAll(async () => {
		vhost = createTestVhost();
		db = await createTestDatabase("saga_processor");
		node = await startProcessorNode({ TRANSPORTER: vhost.url, PROCESSOR_DATABASE_URL: db.url });
	});

	afterAll(async () => {
		await node?.stop();
		await vhost?.remove();
		await db?.drop();
	});

	describe("When 'order.cancelled' comes before 'order.created'", () => {
		it("should leave a tombstone, answer once with nothing released, and never reserve anything", async () => {
			await setStock("SAGA-EARLY", 10);
			const orderId = randomUUID();
			const cancel = orderCancelled(orderId, "expired");

			await deliver(cancel);
			expect(await recordOf(orderId)).toEqual({ status: "CANCELLED", cancelled: true });
			const [answer] = await outboxOf(orderId, "order.compensated");
			expect(answer.payload).toMatchObject({ orderId, cause: "expired", released: [], correlationId: cancel.correlationId, version: 1 });
			expect(answer.meta).toEqual({ correlationId: cancel.correlationId });

			await deliver(orderCreated(orderId, [{ sku: "SAGA-EARLY", quantity: 4 }]));
			expect(await recordOf(orderId)).toEqual({ status: "CANCELLED", cancelled: true });
			expect(await stockOf("SAGA-EARLY")).toEqual({ sku: "SAGA-EARLY", available: 10, reserved: 0 });
			expect(await query("SELECT * FROM stock_reservations WHERE order_id = $1", [orderId])).toEqual([]);
			expect(await movementsOf(orderId)).toEqual([]);
			expect(await outboxOf(orderId, "order.processed")).toEqual([]);
			expect(await outboxOf(orderId, "order.compensated")).toHaveLength(1);
			expect((await history(orderId)).map(e => [e.step, e.status, e.detail?.because])).toEqual([
				["order.cancelled received", "CANCELLED", undefined],
				["cancelled before processing", "CANCELLED", undefined],
				["order.created ignored", "CANCELLED", "late"]
			]);
		});
	});

	describe("When many orders arrive at once and compete for scarce stock", () => {
		it("should handle them in shared transactions and still give each unit once, each order one answer", async () => {
			await setStock("SAGA-SCARCE", 5);
			const orders = Array.from({ length: 12 }, () => orderCreated(randomUUID(), [{ sku: "SAGA-SCARCE", quantity: 1 }]));
			// One order delivered twice among the others: it must take its unit once.
			await Promise.all([...orders, orders[3]].map(event => node.send(event)));

			const ids = orders.map(o => o.orderId);
			await waitFor("the 12 orders to be handled", async () => {
				const [row] = await query<{ n: string }>(
					"SELECT count(*) AS n FROM processing_records WHERE order_id = ANY($1::uuid[]) AND status IN ('COMPLETED', 'FAILED')",
					[ids]
				);
				return Number(row.n) === 12;
			});
			const records = await query<{ status: string; n: string; batches: string }>(
				`SELECT status, count(*) AS n, count(DISTINCT created_at) AS batches FROM processing_records
				 WHERE order_id = ANY($1::uuid[]) GROUP BY status ORDER BY status`,
				[ids]
			);
			expect(records.map(r => [r.status, Number(r.n)])).toEqual([
				["COMPLETED", 5],
				["FAILED", 7]
			]);
			expect(await stockOf("SAGA-SCARCE")).toEqual({ sku: "SAGA-SCARCE", available: 0, reserved: 5 });
			const [ledger] = await query<{ n: string; units: string }>(
				"SELECT count(*) AS n, sum(quantity) AS units FROM stock_movements WHERE sku = 'SAGA-SCARCE' AND kind = 'reserve'"
			);
			expect([Number(ledger.n), Number(ledger.units)]).toEqual([5, 5]);
			for (const id of ids) expect(await outboxOf(id, "order.processed")).toHaveLength(1);
			const twice = orders[3].orderId;
			expect((await query("SELECT * FROM stock_reservations WHERE order_id = $1", [twice])).length).toBeLessThanOrEqual(1);
			await waitFor("the second delivery of the repeated order to be handled", async () => (await history(twice)).length === 3);
			expect((await history(twice)).map(e => e.step).slice(-1)).toEqual(["order.created ignored"]);
			expect((await history(twice)).map(e => e.detail?.because).slice(-1)).toEqual(["duplicate"]);
			// Records written in one transaction share its start time: fewer times than orders means batches.
			const [times] = await query<{ n: string }>("SELECT count(DISTINCT created_at) AS n FROM processing_records WHERE order_id = ANY($1::uuid[])", [ids]);
			expect(Number(times.n)).toBeLessThan(12);
		});
	});

	describe("When a completed order is cancelled", () => {
		const orderId = randomUUID();
		const created = orderCreated(orderId, [
			{ sku: "SAGA-B", quantity: 2 },
			{ sku: "SAGA-A", quantity: 3 },
			{ sku: "SAGA-B", quantity: 1 }
		]);
		const cancel = orderCancelled(orderId, "cancelled", "changed my mind");

		it("should release its stock, write the ledger, end COMPENSATED and answer once with the released lines", async () => {
			await Promise.all([setStock("SAGA-A", 100), setStock("SAGA-B", 100)]);
			await deliver(created);
			expect(await recordOf(orderId)).toEqual({ status: "COMPLETED", cancelled: false });
			expect(await stockOf("SAGA-A")).toEqual({ sku: "SAGA-A", available: 97, reserved: 3 });

			await deliver(cancel);

			expect(await recordOf(orderId)).toEqual({ status: "COMPENSATED", cancelled: true });
			expect(await stockOf("SAGA-A")).toEqual({ sku: "SAGA-A", available: 100, reserved: 0 });
			expect(await stockOf("SAGA-B")).toEqual({ sku: "SAGA-B", available: 100, reserved: 0 });
			const reservations = await query("SELECT sku, quantity, released_at IS NOT NULL AS released FROM stock_reservations WHERE order_id = $1 ORDER BY sku", [orderId]);
			expect(reservations).toEqual([
				{ sku: "SAGA-A", quantity: 3, released: true },
				{ sku: "SAGA-B", quantity: 3, released: true }
			]);
			expect(await movementsOf(orderId)).toEqual([
				{ sku: "SAGA-A", kind: "reserve", quantity: 3, event_id: created.eventId },
				{ sku: "SAGA-B", kind: "reserve", quantity: 3, event_id: created.eventId },
				{ sku: "SAGA-A", kind: "release", quantity: 3, event_id: cancel.eventId },
				{ sku: "SAGA-B", kind: "release", quantity: 3, event_id: cancel.eventId }
			]);
			const answers = await outboxOf(orderId, "order.compensated");
			expect(answers).toHaveLength(1);
			expect(answers[0].payload).toMatchObject({
				orderId,
				cause: "cancelled",
				correlationId: cancel.correlationId,
				released: [
					{ sku: "SAGA-A", quantity: 3 },
					{ sku: "SAGA-B", quantity: 3 }
				]
			});
		});

		it("should release once and answer once when 'order.cancelled' comes again, or another cancellation follows", async () => {
			await deliver(cancel);
			await deliver(orderCancelled(orderId, "expired"));
			await deliver(created);

			expect(await recordOf(orderId)).toEqual({ status: "COMPENSATED", cancelled: true });
			expect(await stockOf("SAGA-A")).toEqual({ sku: "SAGA-A", available: 100, reserved: 0 });
			expect((await movementsOf(orderId)).filter(m => m.kind === "release")).toHaveLength(2);
			expect(await outboxOf(orderId, "order.compensated")).toHaveLength(1);
			expect(await outboxOf(orderId, "order.processed")).toHaveLength(1);
		});

		it("should show every step in 'processor.history', oldest first, with the node that recorded it", async () => {
			const entries = await history(orderId);
			const [processed] = await outboxOf(orderId, "order.processed");
			const [compensated] = await outboxOf(orderId, "order.compensated");

			expect(entries.map(e => [e.step, e.status, e.eventId])).toEqual([
				["order.created received", "PROCESSING", created.eventId],
				["stock reserved", "COMPLETED", processed.payload.eventId],
				["order.cancelled received", "COMPLETED", cancel.eventId],
				["compensated", "COMPENSATED", compensated.payload.eventId],
				["order.cancelled ignored", "COMPENSATED", cancel.eventId],
				["order.cancelled ignored", "COMPENSATED", expect.any(String)],
				["order.created ignored", "COMPENSATED", created.eventId]
			]);
			for (const entry of entries) {
				expect(entry).toMatchObject({ service: "processor", nodeID: node.broker.nodeID, correlationId: created.correlationId });
				expect(new Date(entry.at).toISOString()).toBe(entry.at);
			}
			const times = entries.map(e => Date.parse(e.at));
			expect([...times].sort((a, b) => a - b)).toEqual(times);
			expect(entries[1].detail).toEqual({ lines: [{ sku: "SAGA-A", quantity: 3 }, { sku: "SAGA-B", quantity: 3 }] });
			expect(entries[3].detail).toEqual({
				cause: "cancelled",
				reason: "changed my mind",
				released: [{ sku: "SAGA-A", quantity: 3 }, { sku: "SAGA-B", quantity: 3 }]
			});
			expect(entries[4].detail).toMatchObject({ because: "duplicate" });
		});

		it("should answer an order it never saw with an empty history, and refuse an order id that is not a uuid", async () => {
			expect(await history(randomUUID())).toEqual([]);
			await expect(history("not-a-uuid")).rejects.toMatchObject({ name: "ValidationError" });
		});
	});

	describe("When a failed order is cancelled", () => {
		it("should stay FAILED, release nothing and answer once with nothing released", async () => {
			await setStock("SAGA-SHORT", 1);
			const orderId = randomUUID();
			await deliver(orderCreated(orderId, [{ sku: "SAGA-SHORT", quantity: 2 }]));
			const cancel = orderCancelled(orderId, "expired");
			await deliver(cancel);
			await deliver(cancel);

			expect(await recordOf(orderId)).toEqual({ status: "FAILED", cancelled: true });
			expect(await stockOf("SAGA-SHORT")).toEqual({ sku: "SAGA-SHORT", available: 1, reserved: 0 });
			const answers = await outboxOf(orderId, "order.compensated");
			expect(answers.map(a => a.payload)).toEqual([expect.objectContaining({ cause: "expired", released: [] })]);
			expect((await history(orderId)).map(e => e.step)).toEqual([
				"order.created received",
				"rejected",
				"order.cancelled received",
				"nothing to release",
				"order.cancelled ignored"
			]);
		});
	});

	describe("When the same events arrive reordered and duplicated", () => {
		/** Plays the sequence on a fresh order and returns what it left: record, stock of its SKU, answers. */
		const play = async (sequence: Array<"created" | "cancelled">) => {
			const orderId = randomUUID();
			const sku = `SAGA-SEQ-${orderId.slice(0, 8)}`;
			await setStock(sku, 50);
			const created = orderCreated(orderId, [{ sku, quantity: 5 }]);
			const cancel = orderCancelled(orderId);
			for (const step of sequence) await deliver(step === "created" ? created : cancel);
			const { sku: _sku, ...stock } = (await stockOf(sku)) as { sku: string };
			return {
				record: await recordOf(orderId),
				stock,
				live: (await query("SELECT 1 FROM stock_reservations WHERE order_id = $1 AND released_at IS NULL", [orderId])).length,
				// The quantities released by each answer (the SKU is the order's own).
				compensated: (await outboxOf(orderId, "order.compensated")).map(a => (a.payload.released as ReleasedLine[]).map(line => line.quantity)),
				processed: (await outboxOf(orderId, "order.processed")).length
			};
		};

		it("should end as the plain sequence ends, whatever comes twice", async () => {
			const completedThenCancelled = await play(["created", "cancelled"]);
			expect(completedThenCancelled).toEqual({
				record: { status: "COMPENSATED", cancelled: true },
				stock: { available: 50, reserved: 0 },
				live: 0,
				compensated: [[5]],
				processed: 1
			});
			for (const sequence of [
				["created", "created", "cancelled"],
				["created", "cancelled", "cancelled", "created"],
				["created", "cancelled", "created", "cancelled"]
			] as const) {
				expect(await play([...sequence])).toEqual(completedThenCancelled);
			}
		});

		it("should end cancelled with nothing ever reserved when the cancellation comes first, whatever comes twice", async () => {
			const expected = {
				record: { status: "CANCELLED", cancelled: true },
				stock: { available: 50, reserved: 0 },
				live: 0,
				compensated: [[]],
				processed: 0
			};
			for (const sequence of [
				["cancelled", "created"],
				["cancelled", "cancelled", "created"],
				["cancelled", "created", "created", "cancelled"]
			] as const) {
				expect(await play([...sequence])).toEqual(expected);
			}
		});
	});

	describe("When many orders are created and cancelled at once", () => {
		it("should keep every SKU's reserved units equal to its live reservations and the ledger", async () => {
			await Promise.all([setStock("SAGA-MIX-1", 20), setStock("SAGA-MIX-2", 20)]);
			const orders = Array.from({ length: 24 }, (_, i) => ({
				id: randomUUID(),
				items: [
					{ sku: "SAGA-MIX-1", quantity: 1 + (i % 3) },
					...(i % 2 ? [{ sku: "SAGA-MIX-2", quantity: 2 }] : [])
				],
				cancel: i % 4 !== 0,
				cancelFirst: i % 8 === 1
			}));

			// Everything at once: created and cancelled race each other on the queue's consumers.
			await Promise.all(
				orders.flatMap(order => {
					const created = orderCreated(order.id, order.items);
					const events = order.cancel ? (order.cancelFirst ? [orderCancelled(order.id), created] : [created, orderCancelled(order.id)]) : [created];
					return [...events, ...(order.cancel ? [events[events.length - 1]] : [])].map(event => node.send(event));
				})
			);
			await waitFor("every order to be settled", async () => {
				const rows = await query<{ n: number }>(
					`SELECT count(*)::int AS n FROM processing_records WHERE order_id = ANY($1::uuid[])
					 AND (status IN ('COMPLETED', 'FAILED') AND cancelled_at IS NULL OR cancelled_at IS NOT NULL)`,
					[orders.map(o => o.id)]
				);
				const cancelled = await query<{ n: number }>(
					"SELECT count(*)::int AS n FROM processing_records WHERE order_id = ANY($1::uuid[]) AND cancelled_at IS NOT NULL",
					[orders.map(o => o.id)]
				);
				return rows[0].n === orders.length && cancelled[0].n === orders.filter(o => o.cancel).length;
			}, 30_000);

			const mismatched = await query(
				`SELECT s.sku, s.reserved,
				   (SELECT coalesce(sum(quantity), 0)::int FROM stock_reservations r WHERE r.sku = s.sku AND r.released_at IS NULL) AS live,
				   (SELECT coalesce(sum(CASE kind WHEN 'reserve' THEN quantity ELSE -quantity END), 0)::int FROM stock_movements m WHERE m.sku = s.sku) AS ledger
				 FROM stock s`
			);
			expect(mismatched.filter(row => row.reserved !== row.live || row.reserved !== row.ledger)).toEqual([]);
			const held = await query(
				`SELECT p.order_id, p.status FROM processing_records p JOIN stock_reservations r USING (order_id)
				 WHERE r.released_at IS NULL AND (p.status IN ('CANCELLED', 'COMPENSATED', 'FAILED') OR p.cancelled_at IS NOT NULL)`
			);
			expect(held).toEqual([]);
			const answers = await query<{ n: number }>(
				"SELECT count(*)::int AS n FROM outbox_events WHERE event_name = 'order.compensated' AND payload->>'orderId' = ANY($1::text[])",
				[orders.map(o => o.id)]
			);
			expect(answers[0].n).toBe(orders.filter(o => o.cancel).length);
			const kept = orders.filter(o => !o.cancel).map(o => o.id);
			const live = await query<{ n: number }>(
				"SELECT count(DISTINCT order_id)::int AS n FROM stock_reservations WHERE order_id = ANY($1::uuid[]) AND released_at IS NULL",
				[orders.map(o => o.id)]
			);
			const completedKept = await query<{ n: number }>(
				"SELECT count(*)::int AS n FROM processing_records WHERE order_id = ANY($1::uuid[]) AND status = 'COMPLETED'",
				[kept]
			);
			expect(live[0].n).toBe(completedKept[0].n);
		});
	});
});
