/**
 * The API keeps the promises of its own OpenAPI document: every documented route is called over HTTP
 * on the real services, once for its success and once for each error a client can cause, and each
 * answer's status must be documented for that route and its body must match the documented schema
 * (problem+json for errors, with the documented headers).
 */
import { randomUUID } from "node:crypto";
import type { Transaction } from "sequelize";
import type { Response } from "supertest";
import type TestAgent from "supertest/lib/agent";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { createOpenApiAjv, inlineRefs, validateOpenApiDocument } from "../support/openapi";
import { API_PATH, API_ROUTES } from "../../services/api/routes";

interface OutboxService {
	transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T>;
	enqueueEvent(t: Transaction, name: string, group: string, payload: Record<string, unknown>, meta?: Record<string, unknown>): Promise<void>;
}

interface Operation {
	parameters?: Array<{ name?: string; in?: string; schema?: object }>;
	requestBody?: { content: Record<string, { schema: object; example?: unknown }> };
	responses: Record<string, { content?: Record<string, { schema: object }>; headers?: Record<string, { required?: boolean }> }>;
}

type OpenApi = { paths: Record<string, Record<string, Operation>> };

/** One call: which documented operation it exercises, and the status it must get. */
interface Case {
	name: string;
	method: string;
	/** The documented path, `/api/orders/{id}`. */
	template: string;
	status: number;
	call: () => Promise<Response>;
}

const item = { sku: "SKU-0003", quantity: 1, unitPrice: 2.5 };

describe("The API against its OpenAPI document", () => {
	let system: RunningSystem;
	let document: OpenApi;
	let alice: TestAgent;
	let bob: TestAgent;
	let admin: TestAgent;
	let aliceOrder: string;
	let failedOrder: string;
	const deadLetters: string[] = [];
	const covered = new Set<string>();

	/** A dead letter of the orders outbox: an order.created its consumer refuses for good. */
	async function makeDeadLetter(): Promise<string> {
		const orderId = randomUUID();
		const outbox = system.service("orders") as unknown as OutboxService;
		await outbox.transaction(t => outbox.enqueueEvent(t, "order.created", "processor", { orderId, correlationId: `c-${orderId}`, items: [] }, {}));
		return waitFor(`the dead letter of ${orderId}`, async () => {
			const rows = (await admin.get(`/api/admin/dead-letters?orderId=${orderId}`)).body.rows as Array<{ id: string }> | undefined;
			return rows?.[0]?.id;
		});
	}

	beforeAll(async () => {
		system = await startSystem({ env: { RETRY_MAX_ATTEMPTS: "1" } });
		alice = await system.httpAs("contract-alice");
		bob = await system.httpAs("contract-bob");
		admin = system.http();
		document = (await system.anonymous().get("/api/openapi.json")).body as OpenApi;

		aliceOrder = (await alice.post("/api/orders").send({ items: [item], currency: "EUR" })).body.id;
		failedOrder = (await alice.post("/api/orders").send({ items: [{ ...item, sku: "NO-SUCH-SKU" }], currency: "EUR" })).body.id;
		await waitFor("the unknown SKU's order to fail", async () => (await alice.get(`/api/orders/${failedOrder}`)).body.status === "failed");
		for (let i = 0; i < 3; i++) deadLetters.push(await makeDeadLetter());
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should serve a document that is valid OpenAPI 3.1", async () => {
		const result = await validateOpenApiDocument(document);
		expect({ valid: result.valid, errors: result.errors }).toEqual({ valid: true, errors: null });
		expect(result.version).toBe("3.1");
	});

	const missing = randomUUID();
	const big = JSON.stringify({ items: Array.from({ length: 3000 }, () => item), currency: "EUR" });
	const cases = (): Case[] => [
		// --- orders ---
		{ name: "create, customerId omitted", method: "post", template: "/api/orders", status: 201, call: () => alice.post("/api/orders").send({ items: [item], currency: "EUR" }) },
		{ name: "create, invalid", method: "post", template: "/api/orders", status: 400, call: () => alice.post("/api/orders").send({ items: [], currency: "eur" }) },
		{ name: "create, a query parameter", method: "post", template: "/api/orders", status: 400, call: () => alice.post("/api/orders?customerId=contract-bob").send({ items: [item], currency: "EUR" }) },
		{ name: "create, no token", method: "post", template: "/api/orders", status: 401, call: () => system.anonymous().post("/api/orders").send({ items: [item], currency: "EUR" }) },
		{ name: "create, another customer", method: "post", template: "/api/orders", status: 403, call: () => alice.post("/api/orders").send({ customerId: "contract-bob", items: [item], currency: "EUR" }) },
		{ name: "create, malformed JSON", method: "post", template: "/api/orders", status: 400, call: () => alice.post("/api/orders").set("Content-Type", "application/json").send('{"items": ') },
		{ name: "create, too large", method: "post", template: "/api/orders", status: 413, call: () => alice.post("/api/orders").set("Content-Type", "application/json").send(big) },
		{ name: "create, not JSON", method: "post", template: "/api/orders", status: 415, call: () => alice.post("/api/orders").set("Content-Type", "text/plain").send("items=1") },
		{
			name: "create, key reused with another body",
			method: "post",
			template: "/api/orders",
			status: 422,
			call: async () => {
				await alice.post("/api/orders").set("Idempotency-Key", "contract-key").send({ items: [item], currency: "EUR" });
				return alice.post("/api/orders").set("Idempotency-Key", "contract-key").send({ items: [item], currency: "USD" });
			}
		},
		{ name: "list", method: "get", template: "/api/orders", status: 200, call: () => alice.get("/api/orders?pageSize=5") },
		{ name: "list, a cache-buster", method: "get", template: "/api/orders", status: 200, call: () => alice.get("/api/orders?_=1700000000&pageSize=5") },
		{ name: "list, a parameter twice", method: "get", template: "/api/orders", status: 400, call: () => alice.get("/api/orders?pageSize=5&pageSize=6") },
		{ name: "list, invalid", method: "get", template: "/api/orders", status: 400, call: () => alice.get("/api/orders?pageSize=0") },
		// A GET takes no body: a JSON one is never read into its parameters.
		{ name: "list, a body", method: "get", template: "/api/orders", status: 200, call: () => alice.get("/api/orders").set("Content-Type", "application/json").send({ pageSize: 0 }) },
		{ name: "list, no token", method: "get", template: "/api/orders", status: 401, call: () => system.anonymous().get("/api/orders") },
		{ name: "list, another customer", method: "get", template: "/api/orders", status: 403, call: () => alice.get("/api/orders?customerId=contract-bob") },
		{ name: "get", method: "get", template: "/api/orders/{id}", status: 200, call: () => alice.get(`/api/orders/${aliceOrder}`) },
		{ name: "get, id too long", method: "get", template: "/api/orders/{id}", status: 400, call: () => alice.get(`/api/orders/${"x".repeat(101)}`) },
		{ name: "get, no token", method: "get", template: "/api/orders/{id}", status: 401, call: () => system.anonymous().get(`/api/orders/${aliceOrder}`) },
		{ name: "get, another customer's", method: "get", template: "/api/orders/{id}", status: 404, call: () => bob.get(`/api/orders/${aliceOrder}`) },
		{ name: "cancel", method: "post", template: "/api/orders/{id}/cancel", status: 200, call: () => alice.post(`/api/orders/${aliceOrder}/cancel`).send({ reason: "contract" }) },
		{ name: "cancel, invalid", method: "post", template: "/api/orders/{id}/cancel", status: 400, call: () => alice.post(`/api/orders/${aliceOrder}/cancel`).send({ reason: 5 }) },
		{ name: "cancel, no token", method: "post", template: "/api/orders/{id}/cancel", status: 401, call: () => system.anonymous().post(`/api/orders/${aliceOrder}/cancel`).send({}) },
		{ name: "cancel, another customer's", method: "post", template: "/api/orders/{id}/cancel", status: 404, call: () => bob.post(`/api/orders/${aliceOrder}/cancel`).send({}) },
		{ name: "cancel, failed order", method: "post", template: "/api/orders/{id}/cancel", status: 409, call: () => alice.post(`/api/orders/${failedOrder}/cancel`).send({}) },
		{ name: "cancel, too large", method: "post", template: "/api/orders/{id}/cancel", status: 413, call: () => alice.post(`/api/orders/${aliceOrder}/cancel`).set("Content-Type", "application/json").send(big) },
		{ name: "cancel, not JSON", method: "post", template: "/api/orders/{id}/cancel", status: 415, call: () => alice.post(`/api/orders/${aliceOrder}/cancel`).set("Content-Type", "text/plain").send("x") },
		{ name: "history", method: "get", template: "/api/orders/{id}/history", status: 200, call: () => alice.get(`/api/orders/${aliceOrder}/history`) },
		{ name: "history, id too long", method: "get", template: "/api/orders/{id}/history", status: 400, call: () => alice.get(`/api/orders/${"x".repeat(101)}/history`) },
		{ name: "history, no token", method: "get", template: "/api/orders/{id}/history", status: 401, call: () => system.anonymous().get(`/api/orders/${aliceOrder}/history`) },
		{ name: "history, unknown order", method: "get", template: "/api/orders/{id}/history", status: 404, call: () => alice.get(`/api/orders/${missing}/history`) },
		// --- public ---
		{ name: "live", method: "get", template: "/api/health/live", status: 200, call: () => system.anonymous().get("/api/health/live?_=1") },
		{ name: "live, nested query", method: "get", template: "/api/health/live", status: 400, call: () => system.anonymous().get("/api/health/live?a[b]=1") },
		{ name: "ready", method: "get", template: "/api/health/ready", status: 200, call: () => system.anonymous().get("/api/health/ready") },
		{ name: "ready, nested query", method: "get", template: "/api/health/ready", status: 400, call: () => system.anonymous().get("/api/health/ready?a%5Bb%5D=1") },
		{ name: "openapi", method: "get", template: "/api/openapi.json", status: 200, call: () => system.anonymous().get("/api/openapi.json") },
		{ name: "openapi, a parameter twice", method: "get", template: "/api/openapi.json", status: 400, call: () => system.anonymous().get("/api/openapi.json?v=1&v=2") },
		// --- admin: stock ---
		{ name: "stock", method: "get", template: "/api/admin/stock/{sku}", status: 200, call: () => admin.get("/api/admin/stock/SKU-0003") },
		{ name: "stock, invalid sku", method: "get", template: "/api/admin/stock/{sku}", status: 400, call: () => admin.get("/api/admin/stock/%20bad%20sku") },
		{ name: "stock, no token", method: "get", template: "/api/admin/stock/{sku}", status: 401, call: () => system.anonymous().get("/api/admin/stock/SKU-0003") },
		{ name: "stock, customer", method: "get", template: "/api/admin/stock/{sku}", status: 403, call: () => alice.get("/api/admin/stock/SKU-0003") },
		{ name: "stock, unknown sku", method: "get", template: "/api/admin/stock/{sku}", status: 404, call: () => admin.get("/api/admin/stock/NO-SUCH-SKU") },
		{ name: "set stock", method: "put", template: "/api/admin/stock/{sku}", status: 200, call: () => admin.put("/api/admin/stock/SKU-0099").send({ available: 500 }) },
		{ name: "set stock, invalid", method: "put", template: "/api/admin/stock/{sku}", status: 400, call: () => admin.put("/api/admin/stock/SKU-0099").send({ available: -1 }) },
		{ name: "set stock, no token", method: "put", template: "/api/admin/stock/{sku}", status: 401, call: () => system.anonymous().put("/api/admin/stock/SKU-0099").send({ available: 1 }) },
		{ name: "set stock, customer", method: "put", template: "/api/admin/stock/{sku}", status: 403, call: () => alice.put("/api/admin/stock/SKU-0099").send({ available: 1 }) },
		{ name: "set stock, too large", method: "put", template: "/api/admin/stock/{sku}", status: 413, call: () => admin.put("/api/admin/stock/SKU-0099").set("Content-Type", "application/json").send(big) },
		{ name: "set stock, not JSON", method: "put", template: "/api/admin/stock/{sku}", status: 415, call: () => admin.put("/api/admin/stock/SKU-0099").set("Content-Type", "text/plain").send("1") },
		// --- admin: dead letters ---
		{ name: "dead letters", method: "get", template: "/api/admin/dead-letters", status: 200, call: () => admin.get("/api/admin/dead-letters") },
		{ name: "dead letters, invalid", method: "get", template: "/api/admin/dead-letters", status: 400, call: () => admin.get("/api/admin/dead-letters?limit=-1") },
		{ name: "dead letters, no token", method: "get", template: "/api/admin/dead-letters", status: 401, call: () => system.anonymous().get("/api/admin/dead-letters") },
		{ name: "dead letters, customer", method: "get", template: "/api/admin/dead-letters", status: 403, call: () => alice.get("/api/admin/dead-letters") },
		{ name: "dead letter", method: "get", template: "/api/admin/dead-letters/{id}", status: 200, call: () => admin.get(`/api/admin/dead-letters/${deadLetters[0]}`) },
		{ name: "dead letter, invalid id", method: "get", template: "/api/admin/dead-letters/{id}", status: 400, call: () => admin.get(`/api/admin/dead-letters/${"x".repeat(300)}`) },
		{ name: "dead letter, no token", method: "get", template: "/api/admin/dead-letters/{id}", status: 401, call: () => system.anonymous().get(`/api/admin/dead-letters/${deadLetters[0]}`) },
		{ name: "dead letter, customer", method: "get", template: "/api/admin/dead-letters/{id}", status: 403, call: () => alice.get(`/api/admin/dead-letters/${deadLetters[0]}`) },
		{ name: "dead letter, unknown", method: "get", template: "/api/admin/dead-letters/{id}", status: 404, call: () => admin.get("/api/admin/dead-letters/orders-outbox-999999999") },
		{ name: "replay one", method: "post", template: "/api/admin/dead-letters/{id}/replay", status: 200, call: () => admin.post(`/api/admin/dead-letters/${deadLetters[0]}/replay`) },
		{ name: "replay one, invalid id", method: "post", template: "/api/admin/dead-letters/{id}/replay", status: 400, call: () => admin.post(`/api/admin/dead-letters/${"x".repeat(300)}/replay`) },
		{ name: "replay one, no token", method: "post", template: "/api/admin/dead-letters/{id}/replay", status: 401, call: () => system.anonymous().post(`/api/admin/dead-letters/${deadLetters[1]}/replay`) },
		{ name: "replay one, customer", method: "post", template: "/api/admin/dead-letters/{id}/replay", status: 403, call: () => alice.post(`/api/admin/dead-letters/${deadLetters[1]}/replay`) },
		{ name: "replay one, unknown", method: "post", template: "/api/admin/dead-letters/{id}/replay", status: 404, call: () => admin.post("/api/admin/dead-letters/orders-outbox-999999999/replay") },
		// It takes no body: one sent is never read, whatever its size or type.
		{ name: "replay one, a large body", method: "post", template: "/api/admin/dead-letters/{id}/replay", status: 404, call: () => admin.post("/api/admin/dead-letters/orders-outbox-999999999/replay").set("Content-Type", "application/json").send(big) },
		{ name: "replay one, a text body", method: "post", template: "/api/admin/dead-letters/{id}/replay", status: 404, call: () => admin.post("/api/admin/dead-letters/orders-outbox-999999999/replay").set("Content-Type", "text/plain").send("x") },
		{ name: "replay all", method: "post", template: "/api/admin/dead-letters/replay", status: 200, call: () => admin.post("/api/admin/dead-letters/replay").send({ orderId: missing }) },
		{ name: "replay all, invalid", method: "post", template: "/api/admin/dead-letters/replay", status: 400, call: () => admin.post("/api/admin/dead-letters/replay").send({ event: 5 }) },
		{ name: "replay all, no token", method: "post", template: "/api/admin/dead-letters/replay", status: 401, call: () => system.anonymous().post("/api/admin/dead-letters/replay").send({}) },
		{ name: "replay all, customer", method: "post", template: "/api/admin/dead-letters/replay", status: 403, call: () => alice.post("/api/admin/dead-letters/replay").send({}) },
		{ name: "replay all, too large", method: "post", template: "/api/admin/dead-letters/replay", status: 413, call: () => admin.post("/api/admin/dead-letters/replay").set("Content-Type", "application/json").send(big) },
		{ name: "replay all, not JSON", method: "post", template: "/api/admin/dead-letters/replay", status: 415, call: () => admin.post("/api/admin/dead-letters/replay").set("Content-Type", "text/plain").send("x") },
		{ name: "purge one", method: "delete", template: "/api/admin/dead-letters/{id}", status: 200, call: () => admin.delete(`/api/admin/dead-letters/${deadLetters[2]}`) },
		{ name: "purge one, invalid id", method: "delete", template: "/api/admin/dead-letters/{id}", status: 400, call: () => admin.delete(`/api/admin/dead-letters/${"x".repeat(300)}`) },
		{ name: "purge one, no token", method: "delete", template: "/api/admin/dead-letters/{id}", status: 401, call: () => system.anonymous().delete(`/api/admin/dead-letters/${deadLetters[1]}`) },
		{ name: "purge one, customer", method: "delete", template: "/api/admin/dead-letters/{id}", status: 403, call: () => alice.delete(`/api/admin/dead-letters/${deadLetters[1]}`) },
		{ name: "purge one, gone", method: "delete", template: "/api/admin/dead-letters/{id}", status: 404, call: () => admin.delete(`/api/admin/dead-letters/${deadLetters[2]}`) },
		{ name: "purge all", method: "delete", template: "/api/admin/dead-letters", status: 200, call: () => admin.delete(`/api/admin/dead-letters?orderId=${missing}`) },
		{ name: "purge all, invalid", method: "delete", template: "/api/admin/dead-letters", status: 400, call: () => admin.delete("/api/admin/dead-letters?limit=x") },
		{ name: "purge all, no token", method: "delete", template: "/api/admin/dead-letters", status: 401, call: () => system.anonymous().delete("/api/admin/dead-letters") },
		{ name: "purge all, customer", method: "delete", template: "/api/admin/dead-letters", status: 403, call: () => alice.delete("/api/admin/dead-letters") }
	];

	it("should answer each call with a documented status, the documented body and headers", async () => {
		const ajv = createOpenApiAjv();
		const failures: string[] = [];
		for (const c of cases()) {
			const res = await c.call();
			const operation = document.paths[c.template]?.[c.method];
			const key = `${c.method.toUpperCase()} ${c.template} ${c.status}`;
			covered.add(key);
			if (res.status !== c.status) {
				failures.push(`${c.name}: expected ${c.status}, got ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
				continue;
			}
			const documented = operation?.responses[String(c.status)];
			if (!documented) {
				failures.push(`${c.name}: ${key} is not documented`);
				continue;
			}
			const [mediaType, { schema }] = Object.entries(documented.content ?? {})[0] ?? [];
			if (mediaType) {
				expect(res.headers["content-type"]).toContain(mediaType);
				const validate = ajv.compile(inlineRefs(document, schema) as object);
				if (!validate(res.body)) failures.push(`${c.name}: body does not match ${key}: ${ajv.errorsText(validate.errors)}`);
			}
			for (const [header, spec] of Object.entries(documented.headers ?? {})) {
				if (spec.required && res.headers[header.toLowerCase()] === undefined) failures.push(`${c.name}: no ${header} header`);
			}
		}
		expect(failures).toEqual([]);
	});

	it("should let a GET go on without query parameters it does not list, and refuse them on a purge", async () => {
		const plain = await alice.get(`/api/orders/${aliceOrder}`);
		const busted = await alice.get(`/api/orders/${aliceOrder}?_=1700000000&utm_source=mail`);
		expect([busted.status, busted.body]).toEqual([200, plain.body]);
		expect((await alice.head(`/api/orders/${aliceOrder}?_=1`)).status).toBe(200);

		const typo = await admin.delete(`/api/admin/dead-letters?orderID=${missing}`);
		expect(typo.status).toBe(400);
		expect(typo.body.detail).toContain("orderID");
		expect(typo.body.detail).toContain("event, orderId, errorContains");
		// Nothing was purged: the dead letter no earlier call touched is still there.
		const rows = (await admin.get("/api/admin/dead-letters")).body.rows as Array<{ id: string }>;
		expect(rows.map(r => r.id)).toContain(deadLetters[1]);
	});

	it("should succeed with each operation's example body sent as the docs page pre-fills it", async () => {
		const example = (template: string, method: string) => document.paths[template][method].requestBody!.content["application/json"].example as object;
		// A customer's token, as "Try it out" sends it with the pre-filled body.
		const created = await bob.post("/api/orders").send(example("/api/orders", "post"));
		expect([created.status, created.body.customerId, created.body.status]).toEqual([201, "contract-bob", "pending"]);
		const cancelled = await bob.post(`/api/orders/${created.body.id}/cancel`).send(example("/api/orders/{id}/cancel", "post"));
		expect(cancelled.status).toBe(200);
		// An admin's, on the admin routes.
		expect((await admin.put("/api/admin/stock/SKU-0098").send(example("/api/admin/stock/{sku}", "put"))).status).toBe(200);
		const replayed = await admin.post("/api/admin/dead-letters/replay").send(example("/api/admin/dead-letters/replay", "post"));
		expect([replayed.status, replayed.body.replayed]).toEqual([200, 0]);
	});

	it("should answer a method a path does not take with the documented 405 problem and Allow, HEAD like GET, OPTIONS with Allow", async () => {
		const validate = createOpenApiAjv().compile(inlineRefs(document, { $ref: "#/components/schemas/Problem" }) as object);
		const wrong = await alice.patch("/api/orders").send({});
		expect([wrong.status, wrong.headers.allow, wrong.body.code]).toEqual([405, "GET, HEAD, POST, OPTIONS", "METHOD_NOT_ALLOWED"]);
		expect(validate(wrong.body)).toBe(true);
		const head = await alice.head(`/api/orders/${aliceOrder}`);
		expect([head.status, head.text ?? ""]).toEqual([200, ""]);
		const options = await system.anonymous().options(`/api/orders/${aliceOrder}/cancel`);
		expect([options.status, options.headers.allow]).toEqual([204, "POST, OPTIONS"]);
	});

	it("should refuse exactly the paging values a standard validator refuses in the published parameters", async () => {
		const plain = new Ajv2020();
		addFormats(plain);
		const probes: Array<{ template: string; path: string; name: string; maximum: number; as: () => TestAgent; fixed?: string }> = [
			{ template: "/api/orders", path: "/api/orders", name: "page", maximum: 999_999_999, as: () => alice },
			{ template: "/api/orders", path: "/api/orders", name: "pageSize", maximum: 100, as: () => alice },
			// page × pageSize may reach 100,000 entries: with one entry a page, page alone is bounded.
			{ template: "/api/orders/{id}/history", path: `/api/orders/${aliceOrder}/history`, name: "page", maximum: 100_000, as: () => alice, fixed: "pageSize=1" },
			{ template: "/api/orders/{id}/history", path: `/api/orders/${aliceOrder}/history`, name: "pageSize", maximum: 500, as: () => alice },
			{ template: "/api/admin/dead-letters", path: "/api/admin/dead-letters", name: "limit", maximum: 1000, as: () => admin }
		];
		const disagreements: string[] = [];
		for (const probe of probes) {
			const parameter = document.paths[probe.template].get.parameters!.find(p => p.name === probe.name && p.in === "query")!;
			const standard = plain.compile(parameter.schema!);
			const { maximum } = probe;
			for (const value of ["0", "1", String(maximum), String(maximum + 1), "99999999999999999999", "01", "1e2", "-1"]) {
				const res = await probe.as().get(`${probe.path}?${probe.fixed ? `${probe.fixed}&` : ""}${probe.name}=${encodeURIComponent(value)}`);
				const expected = standard(value) ? 200 : 400;
				if (res.status !== expected) disagreements.push(`${probe.path} ${probe.name}=${value}: the document says ${expected}, the API answered ${res.status}`);
				else if (res.status === 400 && res.body.errors?.[0]?.field !== probe.name) disagreements.push(`${probe.path} ${probe.name}=${value}: the 400 names ${JSON.stringify(res.body.errors)}`);
			}
		}
		expect(disagreements).toEqual([]);
	});

	it("should have called every documented route for its success and for each client error it documents", () => {
		// Not caused on purpose here: 429 (gateway-limits, rate-limit-instances), 503/504 (a service
		// away: broker-outage, faults), the Idempotency-Key in flight (order-idempotency), and a dead
		// letter not signed with the cluster key, which needs RabbitMQ (integration/dead-letters).
		const notCausedHere = new Set(["429", "503", "504"]);
		const elsewhere = new Set(["POST /api/orders 409", "POST /api/admin/dead-letters/{id}/replay 409"]);
		const expected: string[] = [];
		for (const [path, operations] of Object.entries(document.paths)) {
			for (const [method, operation] of Object.entries(operations)) {
				for (const status of Object.keys(operation.responses)) {
					const key = `${method.toUpperCase()} ${path} ${status}`;
					if (!notCausedHere.has(status) && !elsewhere.has(key)) expected.push(key);
				}
			}
		}
		expect(expected.filter(key => !covered.has(key))).toEqual([]);
		// And the document names every route of the table.
		expect(Object.keys(document.paths).sort()).toEqual([...new Set(API_ROUTES.map(r => `${API_PATH}${r.path.replace(/:(\w+)/g, "{$1}")}`))].sort());
	});
});
