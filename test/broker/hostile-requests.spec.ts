/**
 * A stranger's worst requests, as a table: wrong types, negative and huge numbers, NaN-like strings,
 * deep and huge JSON, unicode edge cases, prototype keys, SQL and JSON injection in path, query and
 * body, forged, expired, `alg: none` and wrong-audience tokens, header injection. Each gets its
 * documented 4xx as problem+json (never a 5xx), and neither database changes.
 */
import { connect } from "node:net";
import { SignJWT } from "jose";
import { QueryTypes, type Sequelize } from "sequelize";
import type { Response } from "supertest";
import type TestAgent from "supertest/lib/agent";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";
import { TEST_JWT_SECRET, bearer } from "../support/auth";
import { mintToken } from "../../lib/auth/tokens";

const ISSUER = "https://tests.order-pipeline.example/";
const AUDIENCE = "order-pipeline-api";
const key = new TextEncoder().encode(TEST_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

const item = { sku: "SKU-0007", quantity: 1, unitPrice: 1.5 };
const order = (overrides: Record<string, unknown> = {}) => ({ items: [item], currency: "EUR", ...overrides });
const withItem = (overrides: Record<string, unknown>) => order({ items: [{ ...item, ...overrides }] });
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });

interface Row {
	name: string;
	status: number;
	/** Sent as raw bytes: Node's HTTP parser may answer it before the gateway sees it (no problem document). */
	raw?: boolean;
	send: () => Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>;
}

/** Sends raw bytes (what an HTTP client would refuse to send) and reads the answer's status line and headers. */
function raw(port: number, request: string): Promise<{ status: number; headers: Record<string, string>; text: string }> {
	return new Promise((resolve, reject) => {
		const socket = connect(port, "127.0.0.1", () => socket.end(request));
		let data = "";
		socket.on("data", chunk => (data += chunk));
		socket.on("error", reject);
		socket.on("close", () => {
			const [head, ...body] = data.split("\r\n\r\n");
			const [statusLine, ...lines] = head.split("\r\n");
			const headers: Record<string, string> = {};
			for (const line of lines) {
				const at = line.indexOf(":");
				if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
			}
			resolve({ status: Number(statusLine.split(" ")[1]), headers, text: body.join("\r\n\r\n") });
		});
	});
}

describe("Hostile requests", () => {
	let system: RunningSystem;
	let customer: TestAgent;
	let admin: TestAgent;
	let otherOrder: string;
	let port: number;

	const token = (claims: Record<string, unknown>, alg = "HS256") =>
		new SignJWT({ role: "customer", ...claims })
			.setProtectedHeader({ alg })
			.setSubject((claims.sub as string) ?? "hostile-1")
			.setIssuer((claims.iss as string) ?? ISSUER)
			.setAudience((claims.aud as string) ?? AUDIENCE)
			.setIssuedAt((claims.iat as number) ?? now())
			.setExpirationTime((claims.exp as number) ?? now() + 600)
			.sign(key);
	const ordersWith = async (authorization: string | Promise<string>) => system.anonymous().get("/api/orders").set("Authorization", await authorization);

	/** Every table the services write, counted and summed: equal before and after means nothing changed. */
	async function snapshot(): Promise<unknown> {
		const query = (service: "orders" | "processor", sql: string) =>
			(system.service(service) as unknown as { db(): Sequelize }).db().query(sql, { type: QueryTypes.SELECT });
		return {
			orders: await query("orders", "SELECT count(*) AS n, max(updated_at) AS last FROM orders"),
			history: await query("orders", "SELECT count(*) AS n FROM order_history"),
			ordersOutbox: await query("orders", "SELECT count(*) AS n, count(failed_at) AS failed FROM outbox_events"),
			records: await query("processor", "SELECT count(*) AS n FROM processing_records"),
			stock: await query("processor", "SELECT count(*) AS skus, sum(available) AS available, sum(reserved) AS reserved FROM stock"),
			movements: await query("processor", "SELECT count(*) AS n FROM stock_movements"),
			processorOutbox: await query("processor", "SELECT count(*) AS n, count(failed_at) AS failed FROM outbox_events")
		};
	}

	beforeAll(async () => {
		system = await startSystem({ env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
		port = Number(new URL(system.baseUrl).port);
		const authorized = async (sub: string, role: "customer" | "admin") =>
			system.anonymous().set("Authorization", bearer(await mintToken(TEST_JWT_SECRET, { sub, role, ttlSeconds: 600, issuer: ISSUER, audience: AUDIENCE })));
		customer = await authorized("hostile-1", "customer");
		admin = await authorized("ops", "admin");
		const other = await authorized("hostile-2", "customer");
		const created = await other.post("/api/orders").send(order());
		expect(created.status).toBe(201);
		otherOrder = created.body.id;
		// Settled before the table runs, so that what changes in the databases is the table's doing.
		await waitFor("the setup order to complete", async () => (await admin.get(`/api/orders/${otherOrder}`)).body.status === "completed");
	});
	afterAll(async () => {
		await system?.stop();
	});

	const post = (body: unknown) => () => customer.post("/api/orders").send(body as object);
	const postRaw = (text: string, type = "application/json") => () => customer.post("/api/orders").set("Content-Type", type).send(text);
	const get = (path: string) => () => customer.get(path);
	const asAdmin = (method: "get" | "put" | "post" | "delete", path: string, body?: object) => () => {
		const req = admin[method](path);
		return body === undefined ? req : req.send(body);
	};

	const rows = (): Row[] => [
		// --- wrong types and numbers in the body ---
		{ name: "items as a string", status: 400, send: post(order({ items: "SKU-0007" })) },
		{ name: "items as an object", status: 400, send: post(order({ items: { 0: item } })) },
		{ name: "no items", status: 400, send: post(order({ items: [] })) },
		{ name: "101 lines", status: 400, send: post(order({ items: Array.from({ length: 101 }, () => item) })) },
		{ name: "quantity as a string", status: 400, send: post(withItem({ quantity: "2" })) },
		{ name: "quantity true", status: 400, send: post(withItem({ quantity: true })) },
		{ name: "quantity null", status: 400, send: post(withItem({ quantity: null })) },
		{ name: "quantity 0", status: 400, send: post(withItem({ quantity: 0 })) },
		{ name: "quantity negative", status: 400, send: post(withItem({ quantity: -1 })) },
		{ name: "quantity fractional", status: 400, send: post(withItem({ quantity: 1.5 })) },
		{ name: "quantity 1e308", status: 400, send: postRaw('{"items":[{"sku":"SKU-0007","quantity":1e308,"unitPrice":1}],"currency":"EUR"}') },
		{ name: "quantity 1e400 (Infinity once parsed)", status: 400, send: postRaw('{"items":[{"sku":"SKU-0007","quantity":1e400,"unitPrice":1}],"currency":"EUR"}') },
		{ name: "quantity past 2^53", status: 400, send: postRaw('{"items":[{"sku":"SKU-0007","quantity":9007199254740993,"unitPrice":1}],"currency":"EUR"}') },
		{ name: "unitPrice 'NaN'", status: 400, send: post(withItem({ unitPrice: "NaN" })) },
		{ name: "unitPrice 'Infinity'", status: 400, send: post(withItem({ unitPrice: "Infinity" })) },
		{ name: "unitPrice NaN literal", status: 400, send: postRaw('{"items":[{"sku":"SKU-0007","quantity":1,"unitPrice":NaN}],"currency":"EUR"}') },
		{ name: "unitPrice negative", status: 400, send: post(withItem({ unitPrice: -0.01 })) },
		{ name: "unitPrice over the limit", status: 400, send: post(withItem({ unitPrice: 100_000.01 })) },
		{ name: "unitPrice with three decimals", status: 400, send: post(withItem({ unitPrice: 0.001 })) },
		{ name: "unitPrice as hex string", status: 400, send: post(withItem({ unitPrice: "0x10" })) },
		{ name: "currency lower case", status: 400, send: post(order({ currency: "eur" })) },
		{ name: "currency a number", status: 400, send: post(order({ currency: 978 })) },
		{ name: "currency in full-width letters", status: 400, send: post(order({ currency: "ＥＵＲ" })) },
		{ name: "customerId a number", status: 400, send: post(order({ customerId: 1 })) },
		// --- unicode and text edge cases ---
		{ name: "customerId with NUL", status: 400, send: post(order({ customerId: "hostile-1\u0000" })) },
		{ name: "customerId a lone surrogate", status: 400, send: postRaw('{"customerId":"\\ud800","items":[{"sku":"SKU-0007","quantity":1,"unitPrice":1}],"currency":"EUR"}') },
		{ name: "customerId 101 characters", status: 400, send: post(order({ customerId: "c".repeat(101) })) },
		{ name: "customerId empty", status: 400, send: post(order({ customerId: "" })) },
		{ name: "sku with an emoji", status: 400, send: post(withItem({ sku: "SKU-😀" })) },
		{ name: "sku with a right-to-left override", status: 400, send: post(withItem({ sku: "SKU\u202e1000" })) },
		{ name: "sku with a newline", status: 400, send: post(withItem({ sku: "SKU-0007\n" })) },
		{ name: "body with a byte-order mark", status: 400, send: postRaw('\ufeff{"items":[]}') },
		{ name: "body declared UTF-16 but sent as UTF-8", status: 400, send: postRaw('{"items":[]}', "application/json; charset=utf-16") },
		{ name: "body in latin1", status: 415, send: postRaw('{"items":[]}', "application/json; charset=latin1") },
		// --- prototype keys and unknown fields ---
		{ name: "__proto__ at the top", status: 400, send: postRaw('{"__proto__":{"role":"admin"},"items":[{"sku":"SKU-0007","quantity":1,"unitPrice":1}],"currency":"EUR"}') },
		{ name: "constructor.prototype at the top", status: 400, send: post(order({ constructor: { prototype: { role: "admin" } } })) },
		{ name: "__proto__ in a line", status: 400, send: postRaw('{"items":[{"sku":"SKU-0007","quantity":1,"unitPrice":1,"__proto__":{"x":1}}],"currency":"EUR"}') },
		{ name: "a status set by the client", status: 400, send: post(order({ status: "completed" })) },
		{ name: "a totalAmount set by the client", status: 400, send: post(order({ totalAmount: 0 })) },
		// --- SQL and JSON injection in the body ---
		{ name: "SQL in a sku", status: 400, send: post(withItem({ sku: "SKU-0007'; DROP TABLE stock; --" })) },
		{ name: "an object where a sku goes", status: 400, send: post(withItem({ sku: { $ne: null } })) },
		{ name: "JSON in a currency string", status: 400, send: post(order({ currency: '{"$gt":""}' })) },
		// --- bodies that are not usable ---
		{ name: "a JSON array", status: 400, send: postRaw("[]") },
		{ name: "a JSON string", status: 400, send: postRaw('"order"') },
		{ name: "JSON null", status: 400, send: postRaw("null") },
		{ name: "truncated JSON", status: 400, send: postRaw('{"items":[') },
		{ name: "JSON nested 10,000 deep", status: 400, send: postRaw("[".repeat(10_000) + "]".repeat(10_000)) },
		{ name: "JSON nested 40 deep", status: 400, send: post(order({ extra: nested(40) })) },
		{ name: "a body over 100 kB", status: 413, send: postRaw(JSON.stringify(order({ pad: "x".repeat(110 * 1024) }))) },
		{ name: "a form body", status: 415, send: postRaw("items=1&currency=EUR", "application/x-www-form-urlencoded") },
		{ name: "text/plain", status: 415, send: postRaw("{}", "text/plain") },
		{ name: "gzip that is not", status: 400, send: () => customer.post("/api/orders").set("Content-Type", "application/json").set("Content-Encoding", "gzip").send("{}") },
		{ name: "zstd that is not", status: 400, send: () => customer.post("/api/orders").set("Content-Type", "application/json").set("Content-Encoding", "zstd").send("{}") },
		{ name: "brotli that is not", status: 400, send: () => customer.post("/api/orders").set("Content-Type", "application/json").set("Content-Encoding", "br").send("{}") },
		{ name: "an unknown Content-Encoding", status: 415, send: () => customer.post("/api/orders").set("Content-Type", "application/json").set("Content-Encoding", "x-squeeze").send("{}") },
		// --- path and query ---
		{ name: "SQL in an order id", status: 404, send: get("/api/orders/1'%20OR%20'1'%3D'1") },
		{ name: "NUL in an order id", status: 404, send: get("/api/orders/%00") },
		{ name: "broken percent-encoding in a path", status: 400, send: get("/api/orders/%E0%A4%A") },
		{ name: "an order id of 101 characters", status: 400, send: get(`/api/orders/${"a".repeat(101)}`) },
		{ name: "another customer's order", status: 404, send: () => customer.get(`/api/orders/${otherOrder}`) },
		{ name: "another customer's order's history", status: 404, send: () => customer.get(`/api/orders/${otherOrder}/history`) },
		{ name: "cancelling another customer's order", status: 404, send: () => customer.post(`/api/orders/${otherOrder}/cancel`).send({}) },
		{ name: "an order for another customer", status: 403, send: post(order({ customerId: "hostile-2" })) },
		{ name: "listing another customer's orders", status: 403, send: get("/api/orders?customerId=hostile-2") },
		{ name: "page -1", status: 400, send: get("/api/orders?page=-1") },
		{ name: "page NaN", status: 400, send: get("/api/orders?page=NaN") },
		{ name: "page 1e3", status: 400, send: get("/api/orders?page=1e3") },
		{ name: "page past 32 bits", status: 400, send: get("/api/orders?page=99999999999") },
		{ name: "pageSize 1000", status: 400, send: get("/api/orders?pageSize=1000") },
		{ name: "SQL in status", status: 400, send: get("/api/orders?status=pending'%20OR%201%3D1--") },
		{ name: "status twice (an array)", status: 400, send: get("/api/orders?status=pending&status=failed") },
		{ name: "an operator object in the query", status: 400, send: get("/api/orders?customerId[$ne]=x") },
		{ name: "__proto__ in the query", status: 400, send: get("/api/orders?__proto__[admin]=1") },
		// A GET goes on without a parameter it does not list (a cache-buster must not break a read).
		{ name: "an unknown query field", status: 200, send: get("/api/orders?sort=id;DROP%20TABLE%20orders") },
		{ name: "cancel reason of 501 characters", status: 400, send: () => customer.post(`/api/orders/${otherOrder}/cancel`).send({ reason: "r".repeat(501) }) },
		// --- admin routes ---
		{ name: "SQL in a sku path", status: 400, send: asAdmin("get", "/api/admin/stock/SKU'%3B%20DROP%20TABLE%20stock%3B--") },
		{ name: "negative stock", status: 400, send: asAdmin("put", "/api/admin/stock/SKU-0007", { available: -1 }) },
		{ name: "stock past 2^31", status: 400, send: asAdmin("put", "/api/admin/stock/SKU-0007", { available: 1e20 }) },
		{ name: "stock as a string", status: 400, send: asAdmin("put", "/api/admin/stock/SKU-0007", { available: "10" }) },
		{ name: "stock with an extra field", status: 400, send: asAdmin("put", "/api/admin/stock/SKU-0007", { available: 1, reserved: 0 }) },
		{ name: "dead-letter limit negative", status: 400, send: asAdmin("get", "/api/admin/dead-letters?limit=-5") },
		{ name: "dead-letter filter of 5,000 characters", status: 400, send: asAdmin("get", `/api/admin/dead-letters?errorContains=${"e".repeat(5000)}`) },
		{ name: "a customer setting stock", status: 403, send: () => customer.put("/api/admin/stock/SKU-0007").send({ available: 1 }) },
		{ name: "a customer purging dead letters", status: 403, send: () => customer.delete("/api/admin/dead-letters") },
		// --- tokens ---
		{ name: "no token", status: 401, send: () => system.anonymous().get("/api/orders") },
		{ name: "a forged token (claims changed)", status: 401, send: async () => { const [h, , s] = (await token({})).split("."); return ordersWith(`Bearer ${h}.${b64({ sub: "hostile-1", role: "admin", iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })}.${s}`); } },
		{ name: "an expired token", status: 401, send: () => ordersWith(token({ exp: now() - 3600 }).then(bearer)) },
		{ name: "alg: none", status: 401, send: () => ordersWith(`Bearer ${b64({ alg: "none" })}.${b64({ sub: "hostile-1", role: "admin", iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })}.`) },
		{ name: "a wrong audience", status: 401, send: () => ordersWith(token({ aud: "another-api" }).then(bearer)) },
		{ name: "a wrong issuer", status: 401, send: () => ordersWith(token({ iss: "https://evil.example/" }).then(bearer)) },
		{ name: "HS384 instead of HS256", status: 401, send: () => ordersWith(token({}, "HS384").then(bearer)) },
		{ name: "a role of 'admin ' (trailing space)", status: 401, send: () => ordersWith(token({ role: "admin " }).then(bearer)) },
		{ name: "a token with SQL as subject", status: 200, send: () => ordersWith(token({ sub: "x' OR '1'='1" }).then(bearer)) },
		// --- headers and methods ---
		{ name: "an Idempotency-Key with spaces", status: 400, send: () => customer.post("/api/orders").set("Idempotency-Key", "a key").send(order()) },
		{ name: "an Idempotency-Key of 201 characters", status: 400, send: () => customer.post("/api/orders").set("Idempotency-Key", "k".repeat(201)).send(order()) },
		{ name: "a header split by a bare CR", status: 400, raw: true, send: () => raw(port, "GET /api/health/live HTTP/1.1\r\nHost: x\r\nX-Correlation-Id: a\rSet-Cookie: owned=1\r\n\r\n") },
		{ name: "a request line with a NUL", status: 400, raw: true, send: () => raw(port, "GET /api/orders\u0000 HTTP/1.1\r\nHost: x\r\n\r\n") },
		{ name: "PATCH on orders", status: 405, send: () => customer.patch("/api/orders").send(order()) },
		{ name: "TRACE", status: 405, raw: true, send: () => raw(port, "TRACE /api/orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") },
		{ name: "a path climbing out of the API", status: 404, raw: true, send: () => raw(port, "GET /api/../package.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") },
		{ name: "a docs path climbing out", status: 404, raw: true, send: () => raw(port, "GET /api/docs/%2e%2e/%2e%2e/package.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") }
	];

	it("should answer each with its documented status, never a 5xx, and change neither database", async () => {
		const table = rows();
		expect(table.length).toBeGreaterThanOrEqual(60);
		const before = await snapshot();
		const wrong: string[] = [];
		for (const row of table) {
			const res = (await row.send()) as Response;
			const type = String(res.headers["content-type"] ?? "");
			if (res.status !== row.status) wrong.push(`${row.name}: expected ${row.status}, got ${res.status} ${res.text?.slice(0, 160)}`);
			else if (res.status >= 400 && !row.raw && !type.includes("application/problem+json")) {
				wrong.push(`${row.name}: ${res.status} is not problem+json (${type})`);
			}
			if (res.headers["set-cookie"]) wrong.push(`${row.name}: answered with Set-Cookie`);
			if (/at .+\.(js|ts):\d+|node_modules|Sequelize|SELECT /.test(res.text ?? "")) wrong.push(`${row.name}: the answer shows internals`);
		}
		expect(wrong).toEqual([]);
		expect(await snapshot()).toEqual(before);
	});
});
