/**
 * The orders side of the saga on one node (no transporter, embedded PostgreSQL): cancel, expiry,
 * compensation and history, driven over HTTP. The node runs `api,orders` only: the processor's
 * answers (`order.processed`, `order.compensated`) are emitted by the test, as the processor would
 * send them, and what orders sends (`order.cancelled`) is read from its outbox.
 */
import { randomUUID } from "node:crypto";
import request from "supertest";
import { QueryTypes, type Sequelize } from "sequelize";
import { ConsumerGroups, EVENT_SCHEMA_VERSION, type ReleasedLine } from "../../lib/contracts/events";
import type { HistoryEntry } from "../../lib/contracts/history";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";
import { ManualClock } from "../support/manual-clock";
import { expirySweepIntervalMs } from "../../services/orders/orders.domain";

const ORDER_TIMEOUT_MS = 1500;

const validOrder = {
	customerId: "saga-1",
	items: [{ sku: "SKU-0001", quantity: 2, unitPrice: 10 }],
	currency: "EUR"
};

/** The test's hand on one node: HTTP, the processor's events, and the orders database. */
function sagaHarness(system: () => RunningSystem) {
	const api = () => system().http();
	const db = (): Sequelize => (system().service("orders") as unknown as { adapter: { db: Sequelize } }).adapter.db;
	const emit = async (event: "order.processed" | "order.compensated", payload: Record<string, unknown>) => {
		await system().broker.emit(event, payload, { groups: [ConsumerGroups[event]], throwError: true });
	};
	const envelope = (orderId: string) => ({
		eventId: randomUUID(),
		version: EVENT_SCHEMA_VERSION,
		orderId,
		correlationId: "processor-side",
		occurredAt: new Date().toISOString()
	});
	return {
		api,
		db,
		async createOrder(correlationId?: string): Promise<string> {
			const req = api().post("/api/orders");
			if (correlationId) req.set("X-Correlation-Id", correlationId);
			const res = await req.send(validOrder);
			expect(res.status).toBe(201);
			return res.body.id;
		},
		async processed(orderId: string, status: "completed" | "failed", errorMessage?: string) {
			const payload = { ...envelope(orderId), status, ...(errorMessage ? { errorMessage } : {}) };
			await emit("order.processed", payload);
			return payload;
		},
		async compensated(orderId: string, released: ReleasedLine[], eventId = randomUUID()) {
			await emit("order.compensated", { ...envelope(orderId), eventId, cause: "cancelled", released });
		},
		async status(orderId: string): Promise<string> {
			return (await api().get(`/api/orders/${orderId}`)).body.status;
		},
		async cancelledEvents(orderId: string) {
			return db().query<{ payload: Record<string, unknown>; meta: Record<string, unknown> }>(
				"SELECT payload, meta FROM outbox_events WHERE event_name = 'order.cancelled' AND payload->>'orderId' = :orderId ORDER BY id",
				{ type: QueryTypes.SELECT, replacements: { orderId } }
			);
		},
		async history(orderId: string): Promise<{ entries: HistoryEntry[]; complete: boolean; orderId: string }> {
			const res = await api().get(`/api/orders/${orderId}/history`);
			expect(res.status).toBe(200);
			return res.body;
		}
	};
}

const expectProblem = (res: request.Response, status: number) => {
	expect(res.status).toBe(status);
	expect(res.headers["content-type"]).toContain("application/problem+json");
	expect(res.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
};

describe("Order saga, orders side (api and orders on one node, no processor)", () => {
	let system: RunningSystem;
	const saga = sagaHarness(() => system);

	beforeAll(async () => {
		system = await startSystem({ services: ["api", "orders"] });
	});
	afterAll(async () => {
		await system?.stop();
	});

	describe("When a completed order is cancelled", () => {
		it("should answer 200 'cancelling', send one 'order.cancelled', then end 'cancelled' once the processor compensates", async () => {
			const id = await saga.createOrder("corr-saga-1");
			await saga.processed(id, "completed");
			expect(await saga.status(id)).toBe("completed");

			const res = await saga.api().post(`/api/orders/${id}/cancel`).set("X-Correlation-Id", "corr-cancel-request").send({ reason: "changed my mind" });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ id, status: "cancelling" });
			expect(await saga.status(id)).toBe("cancelling");

			const [sent, ...more] = await saga.cancelledEvents(id);
			expect(more).toEqual([]);
			expect(sent.payload).toEqual({
				eventId: expect.any(String),
				version: EVENT_SCHEMA_VERSION,
				orderId: id,
				correlationId: "corr-saga-1",
				occurredAt: expect.any(String),
				cause: "cancelled",
				reason: "changed my mind"
			});
			expect(sent.meta).toEqual({ correlationId: "corr-saga-1" });

			await saga.compensated(id, [{ sku: "SKU-0001", quantity: 2 }]);
			expect(await saga.status(id)).toBe("cancelled");
		});

		it("should answer a second cancel with 200 and change nothing, before and after the compensation", async () => {
			const id = await saga.createOrder();
			await saga.processed(id, "completed");

			const first = await saga.api().post(`/api/orders/${id}/cancel`).send({});
			const second = await saga.api().post(`/api/orders/${id}/cancel`).send({ reason: "really" });
			expect([first.status, second.status]).toEqual([200, 200]);
			expect(second.body.status).toBe("cancelling");

			await saga.compensated(id, []);
			const third = await saga.api().post(`/api/orders/${id}/cancel`);
			expect(third.status).toBe(200);
			expect(third.body.status).toBe("cancelled");
			expect(await saga.cancelledEvents(id)).toHaveLength(1);
		});

		it("should add no history entry for a repeated cancel, while cancelling or once cancelled, however long its reason", async () => {
			const id = await saga.createOrder();
			await saga.processed(id, "completed");
			await saga.api().post(`/api/orders/${id}/cancel`).send({ reason: "first" }).expect(200);
			const stepsAfterFirst = (await saga.history(id)).entries.length;

			const reason = "r".repeat(500);
			for (let i = 0; i < 5; i++) {
				const res = await saga.api().post(`/api/orders/${id}/cancel`).send({ reason });
				expect(res.status).toBe(200);
				expect(res.body).toMatchObject({ id, status: "cancelling" });
			}
			expect((await saga.history(id)).entries).toHaveLength(stepsAfterFirst);

			await saga.compensated(id, []);
			const stepsWhenCancelled = (await saga.history(id)).entries.length;
			for (let i = 0; i < 5; i++) {
				const res = await saga.api().post(`/api/orders/${id}/cancel`).send({ reason });
				expect(res.status).toBe(200);
				expect(res.body).toMatchObject({ id, status: "cancelled" });
			}
			const { entries } = await saga.history(id);
			expect(entries).toHaveLength(stepsWhenCancelled);
			expect(entries.filter(e => e.step === "cancel requested").map(e => e.detail)).toEqual([expect.objectContaining({ reason: "first" })]);
		});

		it("should keep it cancelled when a repeated or late 'order.compensated' arrives, and record that as ignored", async () => {
			const id = await saga.createOrder();
			await saga.processed(id, "completed");
			await saga.api().post(`/api/orders/${id}/cancel`).send({}).expect(200);
			const eventId = randomUUID();
			await saga.compensated(id, [{ sku: "SKU-0001", quantity: 2 }], eventId);
			await saga.compensated(id, [{ sku: "SKU-0001", quantity: 2 }], eventId);
			await saga.processed(id, "completed");

			expect(await saga.status(id)).toBe("cancelled");
			const { entries } = await saga.history(id);
			expect(entries.map(e => [e.step, e.status])).toEqual([
				["created", "pending"],
				["order.processed received", "completed"],
				["cancel requested", "cancelling"],
				["order.compensated received", "cancelled"],
				["order.compensated ignored", "cancelled"],
				["order.processed ignored", "cancelled"]
			]);
			expect(entries[4].detail).toMatchObject({ ignored: expect.stringContaining("duplicate") });
			expect(entries[5].detail).toMatchObject({ ignored: expect.stringContaining("already cancelled") });
		});
	});

	describe("When the processor's answers for many orders come at once", () => {
		it("should apply them in shared statements, each once, a repeated answer ignored", async () => {
			const orderIds = await Promise.all(Array.from({ length: 10 }, () => saga.createOrder()));
			const answers = orderIds.map((orderId, i) => ({
				eventId: randomUUID(),
				version: EVENT_SCHEMA_VERSION,
				orderId,
				correlationId: "processor-side",
				occurredAt: new Date().toISOString(),
				...(i % 3 === 0 ? { status: "failed", errorMessage: "Insufficient stock for SKU 'SKU-0001'." } : { status: "completed" })
			}));
			const emit = (payload: Record<string, unknown>) =>
				system.broker.emit("order.processed", payload, { groups: [ConsumerGroups["order.processed"]], throwError: true });

			await Promise.all([...answers, answers[4]].map(emit));

			for (const [i, orderId] of orderIds.entries()) expect(await saga.status(orderId)).toBe(i % 3 === 0 ? "failed" : "completed");
			const [inbox] = await saga.db().query<{ n: number; transactions: number }>(
				"SELECT count(*)::int AS n, count(DISTINCT processed_at)::int AS transactions FROM processed_events WHERE order_id IN (:orderIds)",
				{ type: QueryTypes.SELECT, replacements: { orderIds } }
			);
			// One inbox row per answer, the repeated one included once; written in fewer transactions than answers.
			expect(inbox.n).toBe(10);
			expect(inbox.transactions).toBeLessThan(10);
			const steps = await saga.db().query<{ step: string; n: number }>(
				"SELECT step, count(*)::int AS n FROM order_history WHERE order_id IN (:orderIds) GROUP BY step ORDER BY step",
				{ type: QueryTypes.SELECT, replacements: { orderIds } }
			);
			expect(steps).toEqual([
				{ step: "created", n: 10 },
				{ step: "order.processed ignored", n: 1 },
				{ step: "order.processed received", n: 10 }
			]);
		});
	});

	describe("When a pending order is cancelled", () => {
		it("should end 'cancelled' at once and ask the processor to undo whatever it did", async () => {
			const id = await saga.createOrder();
			const res = await saga.api().post(`/api/orders/${id}/cancel`).send({ reason: "too slow" });

			expect(res.status).toBe(200);
			expect(res.body.status).toBe("cancelled");
			const events = await saga.cancelledEvents(id);
			expect(events.map(e => [e.payload.cause, e.payload.reason])).toEqual([["cancelled", "too slow"]]);
		});

		it("should ignore the processor's answer that arrives afterwards", async () => {
			const id = await saga.createOrder();
			await saga.api().post(`/api/orders/${id}/cancel`).send({}).expect(200);
			await saga.processed(id, "completed");

			expect(await saga.status(id)).toBe("cancelled");
			const { entries } = await saga.history(id);
			expect(entries.at(-1)).toMatchObject({ step: "order.processed ignored", status: "cancelled", service: "orders" });
		});
	});

	describe("When an order cannot be cancelled", () => {
		it("should answer 409 for a failed order, saying why it failed and that there is nothing to cancel", async () => {
			const id = await saga.createOrder();
			await saga.processed(id, "failed", "Unknown SKU 'SKU-9999'.");

			const res = await saga.api().post(`/api/orders/${id}/cancel`).send({});
			expectProblem(res, 409);
			expect(res.body.detail).toBe(`Order '${id}' failed (Unknown SKU 'SKU-9999'): there is nothing to cancel.`);
			expect(await saga.status(id)).toBe("failed");
			expect(await saga.cancelledEvents(id)).toEqual([]);
		});

		it("should answer 404 for an unknown order, whatever the id looks like", async () => {
			expectProblem(await saga.api().post("/api/orders/00000000-0000-4000-8000-000000000000/cancel").send({}), 404);
			expectProblem(await saga.api().post("/api/orders/not-a-uuid/cancel").send({}), 404);
		});

		it("should answer 400 for a bad reason: too long, a control character, or an unknown field", async () => {
			const id = await saga.createOrder();
			for (const body of [{ reason: "x".repeat(501) }, { reason: "nul\u0000here" }, { reason: "" }, { reason: "ok", refund: true }]) {
				const res = await saga.api().post(`/api/orders/${id}/cancel`).send(body);
				expectProblem(res, 400);
			}
			expect(await saga.status(id)).toBe("pending");
		});

		it("should not answer another method on the cancel path", async () => {
			const res = await saga.api().get("/api/orders/00000000-0000-4000-8000-000000000000/cancel");
			expectProblem(res, 405);
			expect(res.headers.allow).toBe("POST, OPTIONS");
		});
	});

	describe("When asking for an order's history", () => {
		it("should list every step in order, with the reason of the cancel, and say it is incomplete without a processor", async () => {
			const id = await saga.createOrder("corr-history-1");
			const answer = await saga.processed(id, "completed");
			await saga.api().post(`/api/orders/${id}/cancel`).send({ reason: "wrong size" }).expect(200);
			await saga.compensated(id, [{ sku: "SKU-0001", quantity: 2 }]);

			const history = await saga.history(id);
			expect(history).toMatchObject({ orderId: id, complete: false });
			expect(history.entries.map(e => [e.service, e.step, e.status])).toEqual([
				["orders", "created", "pending"],
				["orders", "order.processed received", "completed"],
				["orders", "cancel requested", "cancelling"],
				["orders", "order.compensated received", "cancelled"]
			]);
			const [created, processed, cancel, compensated] = history.entries;
			expect(created).toMatchObject({ correlationId: "corr-history-1", nodeID: system.broker.nodeID, eventId: expect.any(String) });
			expect(processed.eventId).toBe(answer.eventId);
			const [sent] = await saga.cancelledEvents(id);
			expect(cancel).toMatchObject({ eventId: sent.payload.eventId, detail: { reason: "wrong size" } });
			expect(compensated.detail).toEqual({ cause: "cancelled", released: [{ sku: "SKU-0001", quantity: 2 }] });
			const times = history.entries.map(e => Date.parse(e.at));
			expect([...times].sort((a, b) => a - b)).toEqual(times);
		});

		it("should answer 404 for an unknown order", async () => {
			expectProblem(await saga.api().get("/api/orders/00000000-0000-4000-8000-000000000000/history"), 404);
		});
	});

	describe("When listing orders", () => {
		it("should filter by the saga's statuses", async () => {
			const id = await saga.createOrder();
			await saga.processed(id, "completed");
			await saga.api().post(`/api/orders/${id}/cancel`).send({}).expect(200);

			const res = await saga.api().get(`/api/orders?status=cancelling&customerId=${validOrder.customerId}&pageSize=100`);
			expect(res.status).toBe(200);
			expect(res.body.rows.map((o: { id: string }) => o.id)).toContain(id);
			expect(res.body.rows.every((o: { status: string }) => o.status === "cancelling")).toBe(true);
		});
	});
});

describe("Order expiry (api and orders on one node, ORDER_TIMEOUT_MS=1500 on a clock the test moves, no processor)", () => {
	let system: RunningSystem;
	const saga = sagaHarness(() => system);
	const clock = new ManualClock();
	// The timeout passes at once; then each look moves the clock by a sweep's interval, so the sweeper runs again.
	const expired = (id: string) => {
		clock.advance(ORDER_TIMEOUT_MS);
		return waitFor(`order ${id} to expire`, async () => {
			clock.advance(expirySweepIntervalMs(ORDER_TIMEOUT_MS));
			return (await saga.status(id)) === "expired";
		}, 20_000);
	};

	beforeAll(async () => {
		system = await startSystem({ services: ["api", "orders"], env: { ORDER_TIMEOUT_MS: String(ORDER_TIMEOUT_MS) }, clock });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should expire a pending order no answer reached, and queue exactly one 'order.cancelled' with cause 'expired'", async () => {
		const id = await saga.createOrder("corr-expire-1");
		await expired(id);

		// A later order expiring proves the sweeper ran again since: the first one still has one event.
		const later = await saga.createOrder();
		await expired(later);
		const events = await saga.cancelledEvents(id);
		expect(events).toHaveLength(1);
		expect(events[0].payload).toMatchObject({ orderId: id, cause: "expired", correlationId: "corr-expire-1", version: EVENT_SCHEMA_VERSION });
		expect(events[0].payload).not.toHaveProperty("reason");

		const listed = await saga.api().get("/api/orders?status=expired&pageSize=100");
		expect(listed.body.rows.map((o: { id: string }) => o.id)).toEqual(expect.arrayContaining([id, later]));
	});

	it("should keep an expired order expired when the processor's answer arrives late, and show it as ignored", async () => {
		const id = await saga.createOrder();
		await expired(id);
		await saga.processed(id, "completed");

		expect(await saga.status(id)).toBe("expired");
		const { entries, complete } = await saga.history(id);
		expect(complete).toBe(false);
		expect(entries.map(e => [e.step, e.status])).toEqual([
			["created", "pending"],
			["expired", "expired"],
			["order.processed ignored", "expired"]
		]);
		const [sent] = await saga.cancelledEvents(id);
		expect(entries[1]).toMatchObject({ eventId: sent.payload.eventId, detail: { timeoutMs: 1500 } });
		expect(entries[2].detail).toMatchObject({ ignored: expect.stringContaining("already expired") });
	});

	it("should answer 409 to a cancel of an expired order: it was already undone", async () => {
		const id = await saga.createOrder();
		await expired(id);

		const res = await saga.api().post(`/api/orders/${id}/cancel`).send({ reason: "too late" });
		expectProblem(res, 409);
		expect(res.body.detail).toBe(`Order '${id}' expired: it was already undone.`);
		expect(await saga.cancelledEvents(id)).toHaveLength(1);
	});
});

describe("Order history with the processor's part, on one node running every service", () => {
	let system: RunningSystem;
	const saga = sagaHarness(() => system);

	beforeAll(async () => {
		system = await startSystem();
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should merge both services' steps in time order and call the history complete", async () => {
		const id = await saga.createOrder("corr-merge-1");
		await waitFor(`order ${id} to complete`, async () => (await saga.status(id)) === "completed");

		const history = await saga.history(id);
		expect(history.complete).toBe(true);
		expect(history.entries.map(e => `${e.service}:${e.step}`)).toEqual([
			"orders:created",
			"processor:order.created received",
			"processor:stock reserved",
			"orders:order.processed received"
		]);
		const times = history.entries.map(e => Date.parse(e.at));
		expect(times).toEqual([...times].sort((a, b) => a - b));
		expect(history.entries.every(e => e.correlationId === "corr-merge-1" && e.nodeID === system.broker.nodeID)).toBe(true);
	});

	it("should end a cancelled completed order's history with the release on both sides", async () => {
		const id = await saga.createOrder();
		await waitFor(`order ${id} to complete`, async () => (await saga.status(id)) === "completed");
		const res = await saga.api().post(`/api/orders/${id}/cancel`).send({ reason: "wrong size" });
		expect(res.status).toBe(200);
		await waitFor(`order ${id} to be cancelled`, async () => (await saga.status(id)) === "cancelled");

		const { entries, complete } = await saga.history(id);
		expect(complete).toBe(true);
		expect(entries.at(-1)).toMatchObject({ service: "orders", step: "order.compensated received", status: "cancelled" });
		expect(entries.find(e => e.step === "cancel requested")?.detail).toMatchObject({ reason: "wrong size" });
		expect(entries.some(e => e.service === "processor" && e.status === "COMPENSATED")).toBe(true);
	});
});
