/**
 * The gateway's answers to what a browser, a proxy or a hostile client sends: preflights that must
 * never run an action, CORS by configuration only, HEAD, any JSON media type, bodies that do not
 * decode, JSON nested to blow a stack, amounts past what the database holds, and text PostgreSQL
 * refuses. Each is a clear 4xx or a correct answer, never a 500.
 */
import { gzipSync } from "node:zlib";
import request from "supertest";
import { startSystem, type RunningSystem } from "../support/system";
import { OrderLimits } from "../../lib/contracts/events";

const SHOP = "https://shop.example.com";

const order = (overrides: Record<string, unknown> = {}) => ({
	customerId: "gw-1",
	items: [{ sku: "SKU-0005", quantity: 1, unitPrice: 1 }],
	currency: "EUR",
	...overrides
});

describe("Gateway over HTTP: methods, CORS and hostile bodies", () => {
	let system: RunningSystem;
	const api = () => system.http();
	const orderCount = async () => (await api().get("/api/orders?pageSize=1")).body.total as number;
	const stockOf = async (sku: string) => (await api().get(`/api/admin/stock/${sku}`)).body as { available: number };

	beforeAll(async () => {
		system = await startSystem({ env: { CORS_ORIGINS: SHOP } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	describe("OPTIONS", () => {
		it("should never run the action a preflight names, whatever its body", async () => {
			const ordersBefore = await orderCount();
			const stockBefore = await stockOf("SKU-0005");

			const setStock = await api()
				.options("/api/admin/stock/SKU-0005")
				.set("Origin", "https://evil.example.com")
				.set("Access-Control-Request-Method", "PUT")
				.set("Content-Type", "application/json")
				.send(JSON.stringify({ available: 1 }));
			const create = await api()
				.options("/api/orders")
				.set("Access-Control-Request-Method", "POST")
				.set("Content-Type", "application/json")
				.send(JSON.stringify(order()));

			expect([setStock.status, create.status]).toEqual([204, 204]);
			expect(await stockOf("SKU-0005")).toEqual(stockBefore);
			expect(await orderCount()).toBe(ordersBefore);
		});

		it("should answer a plain OPTIONS with the methods of the path", async () => {
			const res = await api().options("/api/admin/dead-letters");
			expect(res.status).toBe(204);
			expect(res.headers.allow).toBe("GET, HEAD, DELETE, OPTIONS");
			expect(res.text).toBe("");
		});

		it("should give an allowed origin's preflight the CORS answer", async () => {
			const res = await api()
				.options("/api/orders")
				.set("Origin", SHOP)
				.set("Access-Control-Request-Method", "POST")
				.set("Access-Control-Request-Headers", "content-type, idempotency-key");
			expect(res.status).toBe(204);
			expect(res.headers).toMatchObject({
				"access-control-allow-origin": SHOP,
				"access-control-allow-methods": "GET, HEAD, POST, OPTIONS",
				"access-control-max-age": "600",
				vary: "Origin"
			});
			expect(res.headers["access-control-allow-headers"]).toContain("Idempotency-Key");
		});

		it("should give any other origin no Access-Control header at all", async () => {
			const preflight = await api().options("/api/orders").set("Origin", "https://evil.example.com").set("Access-Control-Request-Method", "POST");
			const get = await api().get("/api/orders").set("Origin", "https://evil.example.com");
			for (const res of [preflight, get]) {
				expect(Object.keys(res.headers).filter(h => h.startsWith("access-control-"))).toEqual([]);
			}
		});

		it("should let an allowed origin read the answer of a real request", async () => {
			const res = await api().post("/api/orders").set("Origin", SHOP).send(order());
			expect(res.status).toBe(201);
			expect(res.headers["access-control-allow-origin"]).toBe(SHOP);
			expect(res.headers["access-control-expose-headers"]).toContain("Location");
		});
	});

	describe("security headers", () => {
		const expectHelmet = (res: request.Response, csp: RegExp) => {
			expect(res.headers["content-security-policy"]).toMatch(csp);
			expect(res.headers["x-content-type-options"]).toBe("nosniff");
			expect(res.headers["x-frame-options"]).toBe("DENY");
			expect(res.headers["referrer-policy"]).toBe("no-referrer");
			expect(res.headers["strict-transport-security"]).toMatch(/^max-age=\d+/);
			expect(res.headers["cross-origin-opener-policy"]).toBe("same-origin");
			expect(res.headers["x-powered-by"]).toBeUndefined();
		};

		it("should be on every answer of the API: success, error, 404, 405, OPTIONS and HEAD", async () => {
			const answers = await Promise.all([
				api().get("/api/orders?pageSize=1"),
				api().post("/api/orders").send({}),
				system.anonymous().get("/api/orders"),
				api().get("/api/nowhere"),
				api().patch("/api/orders"),
				api().options("/api/orders"),
				api().head("/api/health/live"),
				system.anonymous().get("/api/openapi.json")
			]);
			expect(answers.map(r => r.status)).toEqual([200, 400, 401, 404, 405, 204, 200, 200]);
			for (const res of answers) expectHelmet(res, /^default-src 'none';\s*frame-ancestors 'none'$/);
		});

		it("should let the docs page load its own scripts and styles, and nothing from elsewhere", async () => {
			const page = await system.anonymous().get("/api/docs");
			expect(page.status).toBe(200);
			expect(page.headers["content-type"]).toContain("text/html");
			expectHelmet(page, /script-src 'self'/);
			expect(page.headers["content-security-policy"]).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
			expect(page.text).not.toMatch(/<script>[^<]|https?:\/\/(?!127\.0\.0\.1)/);
			const script = await system.anonymous().get("/api/docs/swagger-ui-bundle.js");
			expect(script.status).toBe(200);
			expect(script.headers["x-content-type-options"]).toBe("nosniff");
		});
	});

	it("should answer HEAD like GET, without a body", async () => {
		const res = await api().head("/api/orders");
		expect(res.status).toBe(200);
		expect(res.headers["content-type"]).toContain("application/json");
		expect(res.text).toBeUndefined();
		expect((await api().head("/api/health/live")).status).toBe(200);
	});

	it("should read a body sent as any JSON media type", async () => {
		const res = await api().post("/api/orders").set("Content-Type", "application/vnd.api+json").send(JSON.stringify(order()));
		expect(res.status).toBe(201);
		expect(res.body.customerId).toBe("gw-1");
	});

	describe("bodies that cannot be used", () => {
		const expectProblem = (res: request.Response, status: number) => {
			expect(res.status).toBe(status);
			expect(res.headers["content-type"]).toContain("application/problem+json");
		};

		it("should answer 400 naming Content-Encoding when the body is not what it declares, and read one that is", async () => {
			const bad = await api().post("/api/orders").set("Content-Type", "application/json").set("Content-Encoding", "gzip").send("not gzip");
			expectProblem(bad, 400);
			expect(bad.body.detail).toContain("'Content-Encoding'");

			const good = await fetch(`${system.baseUrl}/api/orders`, {
				method: "POST",
				headers: { "Content-Type": "application/json", "Content-Encoding": "gzip", Authorization: system.adminAuthorization },
				body: gzipSync(JSON.stringify(order()))
			});
			expect(good.status).toBe(201);
		});

		it("should answer 413 with the limit in bytes", async () => {
			const res = await api().post("/api/orders").set("Content-Type", "application/json").send(JSON.stringify({ customerId: "x".repeat(200_000) }));
			expectProblem(res, 413);
			expect(res.body.detail).toBe("The request body is larger than the limit of 102400 bytes (100 kB).");
		});

		it("should answer 400 to JSON nested thousands of levels deep", async () => {
			const deep = "[".repeat(10_000) + "]".repeat(10_000);
			const res = await api().post("/api/orders").set("Content-Type", "application/json").send(deep);
			expectProblem(res, 400);
			expect(res.body.detail).toContain("nested more than 32 levels");
		});

		it("should refuse an order whose amounts pass the limits, and take the largest one the limits allow, to the cent", async () => {
			const huge = await api()
				.post("/api/orders")
				.send(order({ items: [{ sku: "SKU-0005", quantity: 1, unitPrice: 1e9 }] }));
			expectProblem(huge, 400);
			expect(huge.body.errors).toEqual([{ field: "items[0].unitPrice", message: `must be <= ${OrderLimits.maxUnitPrice}` }]);

			// An unknown SKU: the order fails in the processor and leaves every stock as it was.
			const items = Array.from({ length: OrderLimits.maxItems }, () => ({
				sku: "SKU-LARGEST",
				quantity: OrderLimits.maxQuantity,
				unitPrice: OrderLimits.maxUnitPrice - 0.01
			}));
			const largest = await api().post("/api/orders").send(order({ items }));
			expect(largest.status).toBe(201);
			expect(largest.body.totalAmount).toBe(99_999_990_000);
			expect((await api().get(`/api/orders/${largest.body.id}`)).body.totalAmount).toBe(99_999_990_000);
		});

		it("should answer 400 naming the quantity to a line of 1,000,000 units, and store nothing nor touch the stock", async () => {
			const ordersBefore = await orderCount();
			const stockBefore = await stockOf("SKU-0042");

			const res = await api()
				.post("/api/orders")
				.send(order({ items: [{ sku: "SKU-0042", quantity: 1_000_000, unitPrice: 1 }] }));

			expectProblem(res, 400);
			expect(res.body.errors).toEqual([{ field: "items[0].quantity", message: `must be <= ${OrderLimits.maxQuantity}` }]);
			expect(OrderLimits.maxQuantity).toBe(10_000);
			expect(await orderCount()).toBe(ordersBefore);
			expect(await stockOf("SKU-0042")).toEqual(stockBefore);
		});

		it.each([
			["a NUL character", "c\u0000-1"],
			["a lone surrogate", "c\ud800-1"],
			["a control character", "c\u001b-1"]
		])("should answer 400 naming the field for %s", async (_what, customerId) => {
			const res = await api().post("/api/orders").send(order({ customerId }));
			expectProblem(res, 400);
			expect(res.body.errors).toEqual([{ field: "customerId", message: expect.stringContaining("control characters") }]);
		});

		it("should answer 400 for a NUL or a control character in a query", async () => {
			for (const query of ["customerId=c%00", "customerId=%1B"]) {
				const res = await api().get(`/api/orders?${query}`);
				expectProblem(res, 400);
				expect(res.body.errors[0].field).toBe("customerId");
			}
			const deadLetters = await api().get("/api/admin/dead-letters?orderId=%00");
			expectProblem(deadLetters, 400);
			expect(deadLetters.body.errors[0].field).toBe("orderId");
		});

		it("should answer 400 for a path that is not valid percent-encoded UTF-8", async () => {
			const res = await api().get("/api/orders/%E0%A4%A");
			expectProblem(res, 400);
			expect(res.body.detail).toBe("A part of the path /api/orders/%E0%A4%A is not valid percent-encoded UTF-8.");
		});

		it("should keep characters outside the basic plane", async () => {
			const res = await api().post("/api/orders").send(order({ customerId: "Zoë 😀" }));
			expect(res.status).toBe(201);
			expect(res.body.customerId).toBe("Zoë 😀");
		});
	});
});
