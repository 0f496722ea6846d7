/**
 * The whole product in one process, as `npm start` runs it with no variables set: no transporter,
 * embedded PostgreSQL. Driven over HTTP like a client would.
 */
import request from "supertest";
import type { ReadinessReport } from "../../lib/health/readiness";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";

const validOrder = {
	customerId: "cust-1",
	items: [
		{ sku: "SKU-0001", quantity: 2, unitPrice: 10.1 },
		{ sku: "SKU-0002", quantity: 1, unitPrice: 0.2 }
	],
	currency: "EUR"
};

describe("Order flow on one node (no transporter, embedded PostgreSQL)", () => {
	let system: RunningSystem;
	const api = () => system.http();
	const finalStatus = (id: string) =>
		waitFor(`order ${id} to leave pending`, async () => {
			const res = await api().get(`/api/orders/${id}`);
			return res.body.status !== "pending" ? res.body : null;
		});

	beforeAll(async () => {
		system = await startSystem({ env: { METRICS_PORT: "0" } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	describe("When creating a valid order", () => {
		it("should answer 201 with a pending order, its total and location, then complete it and reserve the stock", async () => {
			const before = await api().get("/api/admin/stock/SKU-0001");
			const res = await api().post("/api/orders").send(validOrder);

			expect(res.status).toBe(201);
			expect(res.body).toMatchObject({ status: "pending", totalAmount: 20.4, currency: "EUR", customerId: "cust-1" });
			expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
			expect(new Date(res.body.createdAt).toString()).not.toBe("Invalid Date");
			expect(res.headers.location).toBe(`/api/orders/${res.body.id}`);

			const done = await finalStatus(res.body.id);
			expect(done.status).toBe("completed");
			expect(done.errorMessage).toBeNull();

			const after = await api().get("/api/admin/stock/SKU-0001");
			expect(after.body.available).toBe(before.body.available - 2);
			expect(after.body.reserved).toBe(before.body.reserved + 2);
		});

		it("should carry the caller's correlation id through the saga", async () => {
			const res = await api().post("/api/orders").set("X-Correlation-Id", "corr-abc-123").send(validOrder);

			expect(res.headers["x-correlation-id"]).toBe("corr-abc-123");
			const done = await finalStatus(res.body.id);
			expect(done.correlationId).toBe("corr-abc-123");
		});
	});

	describe("When the stock cannot serve the order", () => {
		it("should fail an order with an unknown SKU and name the SKU", async () => {
			const res = await api()
				.post("/api/orders")
				.send({ ...validOrder, items: [{ sku: "SKU-9999", quantity: 1, unitPrice: 1 }] });
			expect(res.status).toBe(201);

			const done = await finalStatus(res.body.id);
			expect(done.status).toBe("failed");
			expect(done.errorMessage).toContain("SKU-9999");
		});

		it("should fail an order asking for more than is available, reserving nothing", async () => {
			await api().put("/api/admin/stock/LOW-1").send({ available: 1 }).expect(200);
			const res = await api()
				.post("/api/orders")
				.send({ ...validOrder, items: [{ sku: "SKU-0003", quantity: 1, unitPrice: 1 }, { sku: "LOW-1", quantity: 2, unitPrice: 5 }] });

			const done = await finalStatus(res.body.id);
			expect(done.status).toBe("failed");
			expect(done.errorMessage).toBe("Insufficient stock for SKU 'LOW-1': requested 2, available 1.");
			const sku3 = await api().get("/api/admin/stock/SKU-0003");
			expect(sku3.body).toEqual({ sku: "SKU-0003", available: 1_000_000, reserved: 0 });
		});
	});

	describe("When the request is bad", () => {
		const expectProblem = (res: request.Response, status: number) => {
			expect(res.status).toBe(status);
			expect(res.headers["content-type"]).toContain("application/problem+json");
			expect(res.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
			expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(js|ts):\d+/);
		};

		it("should list every offending field", async () => {
			const res = await api()
				.post("/api/orders")
				.send({ customerId: "", items: [{ sku: "SKU-0001", quantity: 0, unitPrice: 1.005 }], currency: "eur", extra: true });

			expectProblem(res, 400);
			const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
			expect(fields).toEqual(["currency", "customerId", "extra", "items[0].quantity", "items[0].unitPrice"]);
			expect(res.body.detail).toContain("items[0].quantity");
		});

		it("should reject an order without items", async () => {
			const res = await api().post("/api/orders").send({ customerId: "c", items: [], currency: "EUR" });
			expectProblem(res, 400);
			expect(res.body.errors[0].field).toBe("items");
		});

		it("should answer malformed JSON with 400", async () => {
			const res = await api().post("/api/orders").set("Content-Type", "application/json").send('{"customerId": ');
			expectProblem(res, 400);
			expect(res.body.title).toBe("Malformed JSON");
		});

		it("should answer a body that is not JSON with 415", async () => {
			const res = await api().post("/api/orders").set("Content-Type", "text/plain").send("customerId=1");
			expectProblem(res, 415);
			expect(res.body.detail).toContain("application/json");
		});

		it("should answer a body over the size limit with 413", async () => {
			const res = await api()
				.post("/api/orders")
				.set("Content-Type", "application/json")
				.send(JSON.stringify({ ...validOrder, customerId: "x".repeat(200_000) }));
			expectProblem(res, 413);
		});

		it("should answer an unknown route with 404", async () => {
			expectProblem(await api().get("/api/nothing-here"), 404);
			expectProblem(await api().options("/api/nothing-here"), 404);
		});

		it("should answer another method on a known path with 405 and the methods it answers in 'Allow'", async () => {
			const res = await api().delete("/api/orders");
			expectProblem(res, 405);
			expect(res.headers.allow).toBe("GET, HEAD, POST, OPTIONS");
			expect(res.body.detail).toBe("/api/orders does not answer DELETE; it answers GET, HEAD, POST, OPTIONS.");
			expect((await api().patch("/api/admin/stock/SKU-0001")).headers.allow).toBe("GET, HEAD, PUT, OPTIONS");
		});

		it("should answer an unknown order with 404, whatever the id looks like", async () => {
			const missing = await api().get("/api/orders/00000000-0000-4000-8000-000000000000");
			expectProblem(missing, 404);
			expect(missing.body.detail).toContain("00000000-0000-4000-8000-000000000000");
			expectProblem(await api().get("/api/orders/not-a-uuid"), 404);
		});

		it("should reject bad paging parameters", async () => {
			const pageZero = await api().get("/api/orders?page=0");
			expectProblem(pageZero, 400);
			// One error, naming the bound: not "must be integer" for the digits of a query string.
			expect(pageZero.body.errors).toEqual([{ field: "page", message: expect.stringMatching(/^must be a whole number from 1 to \d+/) }]);
			expectProblem(await api().get("/api/orders?pageSize=101"), 400);
			expectProblem(await api().get("/api/orders?status=shipped"), 400);
		});

		it("should answer an unknown SKU in the stock admin with 404 and a bad stock level with 400", async () => {
			expectProblem(await api().get("/api/admin/stock/NOPE-1"), 404);
			expectProblem(await api().put("/api/admin/stock/SKU-0001").send({ available: -1 }), 400);
		});
	});

	describe("When a client repeats a request with an Idempotency-Key", () => {
		it("should return the first order for the same body", async () => {
			const first = await api().post("/api/orders").set("Idempotency-Key", "key-same-1").send(validOrder);
			const second = await api().post("/api/orders").set("Idempotency-Key", "key-same-1").send(validOrder);

			expect(first.status).toBe(201);
			expect(second.status).toBe(201);
			expect(second.body.id).toBe(first.body.id);
			expect(second.headers["idempotent-replayed"]).toBe("true");
		});

		it("should answer 422 for another body", async () => {
			await api().post("/api/orders").set("Idempotency-Key", "key-other-1").send(validOrder).expect(201);
			const res = await api()
				.post("/api/orders")
				.set("Idempotency-Key", "key-other-1")
				.send({ ...validOrder, customerId: "someone-else" });

			expect(res.status).toBe(422);
			expect(res.body.detail).toContain("key-other-1");
		});

		it("should create one order for concurrent requests with one key, answering the others with it or 409 while it is being made", async () => {
			const post = () => api().post("/api/orders").set("Idempotency-Key", "key-race-1").send(validOrder);
			const responses = await Promise.all(Array.from({ length: 5 }, post));

			const created = responses.filter(r => r.status === 201 && r.headers["idempotent-replayed"] === undefined);
			expect(created).toHaveLength(1);
			for (const res of responses.filter(r => r !== created[0])) {
				if (res.status === 201) {
					expect(res.headers["idempotent-replayed"]).toBe("true");
					expect(res.body.id).toBe(created[0].body.id);
				} else {
					expect(res.status).toBe(409);
					expect(res.headers["content-type"]).toContain("application/problem+json");
					expect(res.body.type).toMatch(/idempotency-key-in-flight$/);
				}
			}
			const retry = await post();
			expect(retry.status).toBe(201);
			expect(retry.headers["idempotent-replayed"]).toBe("true");
			expect(retry.body.id).toBe(created[0].body.id);
		});
	});

	describe("When listing orders", () => {
		it("should filter by customer and status, page newest first and count the total", async () => {
			const customerId = "lister-1";
			const ids: string[] = [];
			for (let i = 0; i < 3; i++) {
				const res = await api().post("/api/orders").send({ ...validOrder, customerId });
				ids.push(res.body.id);
			}
			await Promise.all(ids.map(finalStatus));

			const page1 = await api().get(`/api/orders?customerId=${customerId}&status=completed&page=1&pageSize=2`);
			expect(page1.status).toBe(200);
			expect(page1.body).toMatchObject({ total: 3, page: 1, pageSize: 2, totalPages: 2 });
			expect(page1.body.rows.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);

			const page2 = await api().get(`/api/orders?customerId=${customerId}&page=2&pageSize=2`);
			expect(page2.body.rows.map((o: { id: string }) => o.id)).toEqual([ids[0]]);

			const none = await api().get(`/api/orders?customerId=${customerId}&status=failed`);
			expect(none.body).toMatchObject({ total: 0, rows: [] });
		});
	});

	describe("When asking for health", () => {
		it("should be live and ready, and tell the public nothing more", async () => {
			await api().get("/api/health/live").expect(200, { status: "ok" });
			await system.anonymous().get("/api/health/ready").expect(200, { status: "ok" });
		});

		it("should name every check and each outbox's lag on the metrics port", async () => {
			const live = await fetch(`${system.metricsBaseUrl}/health/live`);
			expect([live.status, await live.json()]).toEqual([200, { status: "ok" }]);
			const ready = await fetch(`${system.metricsBaseUrl}/health/ready`);
			const body = (await ready.json()) as ReadinessReport;
			expect(ready.status).toBe(200);
			expect(body.checks).toEqual({ ordersDatabase: "ok", processorDatabase: "ok", ordersOutbox: "ok", processorOutbox: "ok" });
			expect(body.outbox).toEqual({
				orders: { pending: expect.any(Number), oldestPendingAgeSeconds: expect.any(Number) },
				processor: { pending: expect.any(Number), oldestPendingAgeSeconds: expect.any(Number) }
			});
		});
	});
});
