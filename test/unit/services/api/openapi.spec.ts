import { readFileSync } from "node:fs";
import path from "node:path";
import { Errors, type ServiceSchema } from "moleculer";
import { HEADER_TOKEN_PATTERN } from "../../../../lib/contracts/headers";
import { OrderStatus } from "../../../../lib/contracts/orders";
import { toDeadLetterView } from "../../../../lib/transport/dead-letter-store";
import { toFailedEventView } from "../../../../mixins/outbox-failures";
import { NotReadyError } from "../../../../services/api/api.errors";
import ApiService from "../../../../services/api/api.service";
import {
	REQUEST_SCHEMAS,
	buildOpenApiDocument,
	openApiDocument,
	operationIdOf,
	publishedSchema,
	queryParameterNames,
	takesBody,
	toOpenApiPath,
	type OpenApiDocument,
	type OpenApiOperation,
	type OpenApiParameter
} from "../../../../services/api/openapi";
import { toProblem } from "../../../../services/api/problem";
import { AjvValidator } from "../../../../lib/validation/ajv-validator";
import { API_ROUTES, type ApiRoute } from "../../../../services/api/routes";
import DeadLettersService from "../../../../services/dead-letters/dead-letters.service";
import { toOrderView, type OrderRow } from "../../../../services/orders/orders.model";
import OrdersService from "../../../../services/orders/orders.service";
import ProcessorService from "../../../../services/processor/processor.service";
import { createOpenApiAjv, inlineRefs, responseValidatorFor, validateOpenApiDocument } from "../../../support/openapi";
import { lintOpenApiDocument } from "../../../support/openapi-lint";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";

type AnySchema = Partial<ServiceSchema<any, any, any>>;

const SERVICES: Record<string, AnySchema> = {
	api: ApiService as AnySchema,
	orders: OrdersService as AnySchema,
	processor: ProcessorService as AnySchema,
	deadLetters: DeadLettersService as AnySchema
};

/** The definition of an action as its service declares it, its own or a mixin's. */
function actionDefinition(action: string): { params?: unknown } | undefined {
	const [service, name] = action.split(".");
	const find = (schema: AnySchema): { params?: unknown } | undefined => {
		const own = schema.actions?.[name];
		if (own) return typeof own === "function" ? {} : (own as { params?: unknown });
		for (const mixin of (schema.mixins ?? []) as AnySchema[]) {
			const found = find(mixin);
			if (found) return found;
		}
		return undefined;
	};
	if (!SERVICES[service]) throw new Error(`No service '${service}' in this test.`);
	return find(SERVICES[service]);
}

const document = buildOpenApiDocument();

function operationOf(route: ApiRoute): OpenApiOperation {
	return document.paths[toOpenApiPath(route.path)][route.method.toLowerCase()];
}

function routeOf(action: string): ApiRoute {
	return API_ROUTES.find(r => r.action === action)!;
}

function statusesOf(action: string): string[] {
	return Object.keys(operationOf(routeOf(action)).responses);
}

function ownParameters(operation: OpenApiOperation): OpenApiParameter[] {
	return operation.parameters.filter((p): p is OpenApiParameter => !("$ref" in p));
}

describe("Test 'buildOpenApiDocument'", () => {
	describe("the document as a whole", () => {
		it("should be valid OpenAPI 3.1, as @seriousme/openapi-schema-validator checks it", async () => {
			const result = await validateOpenApiDocument(document);
			expect(result.errors).toBeNull();
			expect(result).toMatchObject({ valid: true, version: "3.1" });
		});

		it("should fail the same validator when it is broken: the check really runs", async () => {
			const broken = JSON.parse(JSON.stringify(document)) as OpenApiDocument;
			delete (broken.info as Partial<OpenApiDocument["info"]>).version;
			(broken.paths["/api/orders"].post.parameters as unknown[]).push({ name: "x", in: "body" });
			const result = await validateOpenApiDocument(broken);
			expect(result.valid).toBe(false);
			expect(JSON.stringify(result.errors)).toMatch(/version/);
		});

		it("should pass Redocly's recommended rules and Spectral's spectral:oas with no error, warning or hint", async () => {
			const findings = await lintOpenApiDocument(document);
			expect(findings.map(f => `${f.tool} ${f.severity} ${f.rule} at ${f.at}: ${f.message}`)).toEqual([]);
		});

		it("should have the linters find what is wrong in a broken copy: the check really runs", async () => {
			const broken = JSON.parse(JSON.stringify(document)) as OpenApiDocument;
			delete (broken.info as Partial<OpenApiDocument["info"]>).contact;
			delete broken.paths["/api/orders/{id}"].get.description;
			broken.paths["/api/orders/{id}"].get.operationId = "ordersList";
			const rules = new Set((await lintOpenApiDocument(broken)).map(f => `${f.tool} ${f.rule}`));
			expect(rules).toEqual(new Set(["spectral info-contact", "spectral operation-description", "redocly operation-operationId-unique", "spectral operation-operationId-unique"]));
		});

		it("should carry the package's version, a title, and roles in its description", () => {
			const pkg = JSON.parse(readFileSync(path.join(__dirname, "../../../../package.json"), "utf8")) as { version: string };
			expect(document.info.version).toBe(pkg.version);
			expect(document.info.title).toEqual(expect.any(String));
			expect(document.info.description).toMatch(/customer/);
			expect(document.info.description).toMatch(/admin/);
		});

		it("should name a relative server, so that it works from any host", () => {
			expect(document.servers).toEqual([expect.objectContaining({ url: "/" })]);
		});

		it("should build once per process with 'openApiDocument'", () => {
			expect(openApiDocument()).toBe(openApiDocument());
			expect(openApiDocument()).toEqual(document);
		});

		it("should compile every schema it holds with a strict JSON Schema 2020-12 ajv", () => {
			const ajv = createOpenApiAjv();
			for (const name of Object.keys(document.components.schemas)) {
				expect(() => createOpenApiAjv().compile(inlineRefs(document, { $ref: `#/components/schemas/${name}` }) as object)).not.toThrow();
			}
			for (const [openApiPath, operations] of Object.entries(document.paths)) {
				for (const [method, operation] of Object.entries(operations)) {
					for (const status of Object.keys(operation.responses)) {
						expect(() => responseValidatorFor(document, method, openApiPath, status)).not.toThrow();
					}
					for (const parameter of ownParameters(operation)) expect(() => ajv.compile(parameter.schema as object)).not.toThrow();
					const body = operation.requestBody?.content["application/json"].schema;
					if (body) expect(() => createOpenApiAjv().compile(JSON.parse(JSON.stringify(body)))).not.toThrow();
				}
			}
		});
	});

	describe("routes and operations", () => {
		it("should have one operation for each route, and a route for each operation", () => {
			const fromRoutes = API_ROUTES.map(r => `${r.method} ${toOpenApiPath(r.path)}`).sort();
			const fromDocument = Object.entries(document.paths)
				.flatMap(([p, operations]) => Object.keys(operations).map(method => `${method.toUpperCase()} ${p}`))
				.sort();
			expect(fromDocument).toEqual(fromRoutes);
		});

		it("should write paths in OpenAPI form under /api", () => {
			expect(Object.keys(document.paths)).toContain("/api/orders/{id}/cancel");
			expect(Object.keys(document.paths)).toContain("/api/admin/stock/{sku}");
			expect(Object.keys(document.paths).filter(p => p.includes(":"))).toEqual([]);
		});

		it("should give each operation its action's name as a unique operationId, a summary and a tag", () => {
			const ids = API_ROUTES.map(route => operationOf(route).operationId);
			expect(new Set(ids).size).toBe(ids.length);
			for (const route of API_ROUTES) {
				const operation = operationOf(route);
				expect(operation.operationId).toBe(operationIdOf(route.action));
				expect(operation["x-moleculer-action"]).toBe(route.action);
				expect(operation.summary).toBe(route.summary);
				expect(document.tags.map(t => t.name)).toContain(operation.tags[0]);
			}
			expect(operationIdOf("deadLetters.replayAll")).toBe("deadLettersReplayAll");
		});
	});

	describe("request schemas: the very ones the actions validate with", () => {
		it.each(API_ROUTES.map(r => [r.action, r] as const))("should take %s's params from the action's own schema", (action, route) => {
			const params = actionDefinition(action)?.params;
			expect(REQUEST_SCHEMAS[action] ?? undefined).toBe(params);
			if (!params) return;

			// The same objects, or (where the product's own keywords are left out) equal copies.
			const published = publishedSchema(params) as { properties: Record<string, unknown> };
			const operation = operationOf(route);
			for (const parameter of ownParameters(operation)) expect(parameter.schema).toEqual(published.properties[parameter.name]);
			const body = operation.requestBody?.content["application/json"].schema as { properties: Record<string, unknown> } | undefined;
			if (!body) return;
			if (!route.path.includes(":")) expect(body).toEqual(published);
			for (const [name, schema] of Object.entries(body.properties)) expect(schema).toEqual(published.properties[name]);
		});

		it("should share the action's schema objects where they hold no keyword of the product's own", () => {
			const history = REQUEST_SCHEMAS["orders.history"] as { properties: Record<string, unknown> };
			expect(publishedSchema(history)).toBe(history);
			const pageSize = ownParameters(operationOf(routeOf("orders.history"))).find(p => p.name === "pageSize");
			expect(pageSize?.schema).toBe(history.properties.pageSize);
		});

		it("should leave out 'maxDecimals' and nothing else, not even a property of that name", () => {
			const schema = {
				type: "object",
				properties: { price: { type: "number", maxDecimals: 2, description: "cents" }, maxDecimals: { type: "integer" } },
				anyOf: [{ required: ["price"] }]
			};
			expect(publishedSchema(schema)).toEqual({
				type: "object",
				properties: { price: { type: "number", description: "cents" }, maxDecimals: { type: "integer" } },
				anyOf: [{ required: ["price"] }]
			});
			expect(schema.properties.price.maxDecimals).toBe(2);
		});

		it("should put the path's names in the path, the rest of a GET in the query", () => {
			const get = operationOf(routeOf("orders.get"));
			expect(ownParameters(get)).toEqual([{ name: "id", in: "path", required: true, schema: expect.any(Object) }]);
			const list = ownParameters(operationOf(routeOf("orders.list")));
			expect(list.map(p => [p.name, p.in, p.required])).toEqual([
				["status", "query", false],
				["customerId", "query", false],
				["page", "query", false],
				["pageSize", "query", false]
			]);
			expect(operationOf(routeOf("orders.list")).requestBody).toBeUndefined();
			const history = ownParameters(operationOf(routeOf("orders.history")));
			expect(history.map(p => [p.name, p.in, p.required])).toEqual([
				["id", "path", true],
				["page", "query", false],
				["pageSize", "query", false]
			]);
			expect(JSON.stringify(history[2].schema)).toContain('"maximum":500');
		});

		it("should put a DELETE's filter in the query", () => {
			const purgeAll = ownParameters(operationOf(routeOf("deadLetters.purgeAll")));
			expect(purgeAll.map(p => `${p.in}:${p.name}`)).toEqual(["query:event", "query:orderId", "query:errorContains"]);
		});

		it("should make the body of a POST or PUT with a path param of the other properties", () => {
			const cancel = operationOf(routeOf("orders.cancel"));
			expect(cancel.requestBody).toEqual({
				required: false,
				content: {
					"application/json": {
						schema: { type: "object", additionalProperties: false, properties: { reason: expect.any(Object) } },
						example: { reason: expect.any(String) }
					}
				}
			});
			const setStock = operationOf(routeOf("processor.setStock"));
			expect(setStock.requestBody?.required).toBe(true);
			expect(setStock.requestBody?.content["application/json"].schema).toMatchObject({ required: ["available"] });
			expect(ownParameters(setStock)).toEqual([expect.objectContaining({ name: "sku", in: "path" })]);
		});

		it("should document no body where the action takes nothing but the path", () => {
			expect(operationOf(routeOf("deadLetters.replay")).requestBody).toBeUndefined();
			expect(operationOf(routeOf("api.live")).requestBody).toBeUndefined();
		});

		it("should document the Idempotency-Key header on POST /orders, with the pattern the gateway checks", () => {
			const create = operationOf(routeOf("orders.create"));
			expect(create.parameters).toContainEqual({ $ref: "#/components/parameters/IdempotencyKey" });
			expect(document.components.parameters.IdempotencyKey).toMatchObject({ name: "Idempotency-Key", in: "header" });
			expect((document.components.parameters.IdempotencyKey as { schema: unknown }).schema).toMatchObject({ pattern: HEADER_TOKEN_PATTERN });
		});
	});

	describe("as a standard validator reads it (a plain ajv, Prism)", () => {
		const plainAjv = () => {
			const ajv = new Ajv2020();
			addFormats(ajv);
			return ajv;
		};
		const order = (unitPrice: number) => ({ items: [{ sku: "SKU-0001", quantity: 1, unitPrice }], currency: "EUR" });
		const productValidator = new AjvValidator({});
		const productAccepts = (body: unknown) => productValidator.compile(REQUEST_SCHEMAS["orders.create"] as Record<string, unknown>)(body as Record<string, unknown>) === true;

		it("should accept every price from 0.00 to 100.00 in cents that the product accepts, 19.99 among them", () => {
			const body = operationOf(routeOf("orders.create")).requestBody!.content["application/json"].schema;
			const standard = plainAjv().compile(inlineRefs(document, body) as object);
			const refused: number[] = [];
			for (let cents = 0; cents <= 10_000; cents++) {
				const price = cents / 100;
				expect(productAccepts(order(price))).toBe(true);
				if (!standard(order(price))) refused.push(price);
			}
			expect(refused).toEqual([]);
		});

		it("should still be refused by the product with a 400 naming the field for a price of three decimals", () => {
			expect(productAccepts(order(19.999))).toBe(false);
			let error: unknown;
			try {
				productValidator.validate(order(19.999), REQUEST_SCHEMAS["orders.create"] as Record<string, unknown>);
			} catch (err) {
				error = err;
			}
			const { problem } = toProblem(error, { method: "POST", url: "/api/orders" });
			expect(problem).toMatchObject({ status: 400, errors: [{ field: "items[0].unitPrice", message: "must have at most 2 decimals" }] });
		});

		it.each([
			["orders.list", "page", 999_999_999],
			["orders.list", "pageSize", 100],
			["orders.history", "page", 100_000],
			["orders.history", "pageSize", 500],
			["deadLetters.list", "limit", 1000]
		] as const)("should take %s's %s in both forms exactly as the product's schema does, up to %i", (action, name, maximum) => {
			const parameter = ownParameters(operationOf(routeOf(action))).find(p => p.name === name)!;
			expect(parameter).toMatchObject({ in: "query", description: expect.stringContaining(String(maximum)) });
			const standard = plainAjv().compile(parameter.schema as object);
			const product = new AjvValidator({}).compile(REQUEST_SCHEMAS[action] as Record<string, unknown>);
			const id = action === "orders.history" ? { id: "1b4e28ba-2fa1-41d2-883f-0016d3cca427" } : {};
			const values = [0, 1, maximum, maximum + 1, 1e12, -1, 2.5].flatMap(n => [n, String(n)]).concat(["01", "1e2", "", " 1", "1.0"]);
			const verdicts = values.map(value => [value, standard(value), product({ ...id, [name]: value }) === true]);
			expect(verdicts.filter(([, a, b]) => a !== b)).toEqual([]);
			expect(verdicts.filter(([, ok]) => ok).map(([value]) => value)).toEqual([1, "1", maximum, String(maximum)]);
		});

		it("should say the cents rule in words where it leaves the keyword out, and use no multipleOf anywhere", () => {
			const text = JSON.stringify(document);
			expect(text).not.toContain('"multipleOf"');
			expect(text).not.toContain('"maxDecimals"');
			const body = operationOf(routeOf("orders.create")).requestBody!.content["application/json"].schema as {
				properties: { items: { items: { properties: { unitPrice: { description: string } } } } };
			};
			expect(body.properties.items.items.properties.unitPrice.description).toMatch(/at most 2 decimals/i);
		});
	});

	describe("query parameters the operation does not list", () => {
		it("should say in every operation's description what happens to them, and in the document's", () => {
			for (const route of API_ROUTES) {
				const { description } = operationOf(route);
				expect([route.action, description]).toEqual([route.action, expect.stringMatching(route.method === "GET" ? /not list are ignored/ : /is a 400/)]);
			}
			expect(document.info.description).toMatch(/\*\*Query parameters\.\*\* A `GET` ignores/);
		});

		it("should document a 400 for them on every route, naming the code", () => {
			for (const route of API_ROUTES) expect(operationOf(route).responses["400"].description).toContain("INVALID_QUERY");
		});

		it("should list as a route's query parameters those its operation documents", () => {
			expect([...queryParameterNames(routeOf("orders.list"))]).toEqual(["status", "customerId", "page", "pageSize"]);
			expect([...queryParameterNames(routeOf("orders.history"))]).toEqual(["page", "pageSize"]);
			expect(queryParameterNames(routeOf("orders.create")).size).toBe(0);
			expect(queryParameterNames(routeOf("api.live")).size).toBe(0);
		});
	});

	describe("security", () => {
		it("should ask for a bearer JWT by default, and for nothing on public routes", () => {
			expect(document.components.securitySchemes.bearerAuth).toEqual(
				expect.objectContaining({ type: "http", scheme: "bearer", bearerFormat: "JWT" })
			);
			expect(document.security).toEqual([{ bearerAuth: [] }]);
			for (const route of API_ROUTES) {
				const operation = operationOf(route);
				if (route.access === "public") {
					expect(operation.security).toEqual([]);
					expect(operation.responses["401"]).toBeUndefined();
				} else {
					expect(operation.security).toBeUndefined();
					expect(operation.responses["401"]).toBeDefined();
				}
				expect(operation["x-access"]).toBe(route.access);
			}
		});

		it("should document 403 on admin routes and where a customer may name another customer", () => {
			const with403 = API_ROUTES.filter(r => operationOf(r).responses["403"]).map(r => r.action);
			expect(with403.sort()).toEqual(
				[...API_ROUTES.filter(r => r.access === "admin").map(r => r.action), "orders.create", "orders.list"].sort()
			);
		});
	});

	describe("responses", () => {
		it("should document what POST /orders answers", () => {
			expect(statusesOf("orders.create")).toEqual(["201", "400", "401", "403", "409", "413", "415", "422", "429", "503", "504"]);
			const created = operationOf(routeOf("orders.create")).responses["201"];
			expect(Object.keys(created.headers!)).toEqual(["X-Correlation-Id", "Location", "Idempotent-Replayed", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]);
		});

		it("should document 413 and 415 only where the operation takes a body", () => {
			for (const route of API_ROUTES) {
				const operation = operationOf(route);
				const statuses = Object.keys(operation.responses);
				const expected = operation.requestBody ? ["413", "415"] : [];
				expect([route.action, statuses.filter(status => status === "413" || status === "415")]).toEqual([route.action, expected]);
				expect(takesBody(route)).toBe(operation.requestBody !== undefined);
			}
			expect(statusesOf("deadLetters.replay")).toEqual(["200", "400", "401", "403", "404", "409", "429", "503", "504"]);
		});

		it("should document the RateLimit headers, optional, on the answers of every counted route", () => {
			for (const name of ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]) {
				expect(document.components.headers[name]).toMatchObject({ required: false, schema: { type: "integer" } });
			}
			for (const route of API_ROUTES) {
				const { responses } = operationOf(route);
				const ok = Object.keys(responses)[0];
				for (const status of [ok, "429"]) {
					if (route.access === "public") expect(responses[status]?.headers ?? {}).not.toHaveProperty(["RateLimit-Limit"]);
					else expect(responses[status].headers).toHaveProperty(["RateLimit-Remaining"]);
				}
			}
		});

		it("should say that HEAD, OPTIONS and 405 with Allow answer every path, and give a contact", () => {
			expect(document.info.description).toMatch(/answers `HEAD` too/);
			expect(document.info.description).toMatch(/`OPTIONS` on any path of the API answers `204` with `Allow`/);
			expect(document.info.description).toMatch(/`405` problem \(code `METHOD_NOT_ALLOWED`\) with `Allow`/);
			expect(document.info.contact).toEqual({ name: expect.any(String) });
		});

		it("should describe every operation in words of its own, beyond who may call it and its query rule", () => {
			for (const route of API_ROUTES) {
				const { description } = operationOf(route);
				const own = description!.replace("Role `admin` only.", "").replace(/(Query parameters it does not list|It takes no query parameters|A query parameter it does not list).*$/, "").trim();
				expect([route.action, own.length > 15]).toEqual([route.action, true]);
			}
		});

		it("should require a problem's code and list the codes it may take", () => {
			const problem = document.components.schemas.Problem as { required: string[]; properties: { code: { pattern: string; description: string } } };
			expect(problem.required).toContain("code");
			expect(problem.properties.code.description).toContain("`VALIDATION_ERROR` (400)");
			expect(problem.properties.code.description).toContain("`METHOD_NOT_ALLOWED` (405)");
		});

		it("should document 404 where a path names something that may not exist, and 409 on cancel", () => {
			expect(statusesOf("orders.get")).toEqual(["200", "400", "401", "404", "429", "503", "504"]);
			expect(statusesOf("orders.cancel")).toEqual(["200", "400", "401", "404", "409", "413", "415", "429", "503", "504"]);
			expect(statusesOf("processor.getStock")).toContain("404");
			// Setting the stock of a new SKU creates it.
			expect(statusesOf("processor.setStock")).not.toContain("404");
			expect(statusesOf("deadLetters.purge")).toContain("404");
		});

		it("should document on every authenticated route a 503 with Retry-After, for when the identity provider's keys cannot be read", () => {
			for (const route of API_ROUTES.filter(r => r.access !== "public")) {
				const unavailable = operationOf(route).responses["503"];
				expect(unavailable.description).toContain("IDENTITY_PROVIDER_UNAVAILABLE");
				expect(Object.keys(unavailable.headers!)).toEqual(["X-Correlation-Id", "Retry-After"]);
			}
		});

		it("should document the health routes without 401 or 429 (no token, not counted), and readiness's 503 as a plain problem", () => {
			// 400: a nested or repeated query parameter, refused on every route.
			expect(statusesOf("api.live")).toEqual(["200", "400"]);
			expect(statusesOf("api.ready")).toEqual(["200", "400", "503"]);
			expect(operationOf(routeOf("api.ready")).responses["503"].content).toEqual({
				"application/problem+json": { schema: { $ref: "#/components/schemas/Problem" }, example: expect.objectContaining({ status: 503, code: "NOT_READY" }) }
			});
		});

		it("should answer every error as problem+json, with X-Correlation-Id, and 429 with Retry-After", () => {
			for (const route of API_ROUTES) {
				for (const [status, response] of Object.entries(operationOf(route).responses)) {
					expect(response.headers).toHaveProperty(["X-Correlation-Id"]);
					if (Number(status) < 400) continue;
					expect(Object.keys(response.content!)).toEqual(["application/problem+json"]);
				}
				if (route.access !== "public") expect(operationOf(route).responses["429"].headers).toHaveProperty(["Retry-After"]);
			}
		});
	});

	describe("examples, as the docs page pre-fills and shows them", () => {
		const plainAjv = () => {
			const ajv = new Ajv2020();
			addFormats(ajv);
			return ajv;
		};
		const pathSample = (route: ApiRoute) =>
			Object.fromEntries([...route.path.matchAll(/:(\w+)/g)].map(([, name]) => [name, name === "sku" ? "SKU-0001" : "1b4e28ba-2fa1-41d2-883f-0016d3cca427"]));

		it("should give each operation that takes a body an example valid against the published schema and the action's own", () => {
			const validator = new AjvValidator({});
			const withBody = API_ROUTES.filter(route => operationOf(route).requestBody);
			expect(withBody.map(r => r.action).sort()).toEqual(["deadLetters.replayAll", "orders.cancel", "orders.create", "processor.setStock"]);
			for (const route of withBody) {
				const { schema, example } = operationOf(route).requestBody!.content["application/json"];
				expect([route.action, example]).toEqual([route.action, expect.any(Object)]);
				const standard = plainAjv().compile(schema as object);
				expect([route.action, standard(example), standard.errors ?? null]).toEqual([route.action, true, null]);
				const own = validator.compile(REQUEST_SCHEMAS[route.action] as Record<string, unknown>)({ ...pathSample(route), ...(example as object) });
				expect([route.action, own]).toEqual([route.action, true]);
			}
		});

		it("should pre-fill POST /orders with a demo SKU, one unit at 9.99 EUR and no customerId (the token's own)", () => {
			const { example } = operationOf(routeOf("orders.create")).requestBody!.content["application/json"];
			expect(example).toEqual({ items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 9.99 }], currency: "EUR" });
			const item = (REQUEST_SCHEMAS["orders.create"] as { properties: { items: { items: { properties: Record<string, { examples?: unknown[] }> } } } }).properties.items.items.properties;
			expect([item.sku.examples, item.quantity.examples, item.unitPrice.examples]).toEqual([["SKU-0001"], [1], [9.99]]);
		});

		it("should show with every error answer a problem of that very status, as the gateway writes it", () => {
			const validate = plainAjv().compile(inlineRefs(document, { $ref: "#/components/schemas/Problem" }) as object);
			const wrong: string[] = [];
			for (const route of API_ROUTES) {
				for (const [status, response] of Object.entries(operationOf(route).responses)) {
					if (Number(status) < 400) continue;
					const example = response.content!["application/problem+json"].example as { status: number; code: string; type: string; instance: string };
					if (example?.status !== Number(status)) wrong.push(`${route.action} ${status}: example status ${example?.status}`);
					if (!validate(example)) wrong.push(`${route.action} ${status}: ${JSON.stringify(validate.errors)}`);
					if (!example.type.toUpperCase().replace(/-/g, "_").endsWith(`:${example.code}`)) wrong.push(`${route.action} ${status}: code ${example.code}`);
					if (!example.instance.startsWith("/api/") || example.instance.includes("{")) wrong.push(`${route.action} ${status}: instance ${example.instance}`);
				}
			}
			expect(wrong).toEqual([]);
			const unauthorized = operationOf(routeOf("orders.create")).responses["401"].content!["application/problem+json"].example;
			expect(unauthorized).toMatchObject({ status: 401, code: "MISSING_TOKEN", title: "Unauthorized" });
		});
	});

	describe("response schemas against the answers the code makes", () => {
		const row: OrderRow = {
			id: "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
			customerId: "customer-1",
			items: [{ sku: "SKU-0001", quantity: 2, unitPrice: 0.29 }],
			totalAmount: "0.58",
			currency: "EUR",
			status: OrderStatus.Failed,
			errorMessage: "Not enough stock of 'SKU-0001'.",
			correlationId: "req-1",
			idempotencyKey: "key-1",
			idempotencyScope: "customer-1",
			requestHash: "abc",
			createdAt: new Date("2025-01-01T00:00:00Z"),
			updatedAt: new Date("2025-01-01T00:00:01Z")
		};
		const validate = (action: string, status: number, body: unknown) => {
			const route = routeOf(action);
			const check = responseValidatorFor(document, route.method, toOpenApiPath(route.path), status);
			const valid = check(JSON.parse(JSON.stringify(body)));
			return { valid, errors: check.errors };
		};

		it("should take an order as toOrderView makes it, and refuse one with a field missing or extra", () => {
			const order = toOrderView(row);
			expect(validate("orders.create", 201, order)).toEqual({ valid: true, errors: null });
			expect(validate("orders.get", 200, { ...order, errorMessage: null, status: OrderStatus.Pending })).toMatchObject({ valid: true });
			const { correlationId: _dropped, ...missing } = order;
			expect(validate("orders.get", 200, missing).valid).toBe(false);
			expect(validate("orders.get", 200, { ...order, idempotencyKey: "key-1" }).valid).toBe(false);
		});

		it("should take a page of orders and a history", () => {
			const page = { rows: [toOrderView(row)], total: 1, page: 1, pageSize: 20, totalPages: 1 };
			expect(validate("orders.list", 200, page)).toMatchObject({ valid: true });
			const history = {
				orderId: row.id,
				entries: [
					{ at: "2025-01-01T00:00:00.000Z", service: "orders", step: "created", status: "pending", eventId: "e-1", correlationId: "req-1", nodeID: "n-1", detail: { lines: 1 } },
					{ at: "2025-01-01T00:00:01.000Z", service: "processor", step: "stock reserved", status: "COMPLETED", eventId: null, correlationId: null, nodeID: "n-2", detail: null }
				],
				complete: true,
				total: 2,
				page: 1,
				pageSize: 100,
				totalPages: 1
			};
			expect(validate("orders.history", 200, history)).toMatchObject({ valid: true });
			expect(validate("orders.history", 200, { ...history, complete: "yes" }).valid).toBe(false);
			const { total: _total, ...unpaged } = history;
			expect(validate("orders.history", 200, unpaged).valid).toBe(false);
			expect(validate("orders.history", 200, { ...history, pageSize: 501 }).valid).toBe(false);
		});

		it("should take a SKU's stock", () => {
			expect(validate("processor.getStock", 200, { sku: "SKU-0001", available: 10, reserved: 2 })).toMatchObject({ valid: true });
			expect(validate("processor.setStock", 200, { sku: "SKU-0001", available: -1, reserved: 0 }).valid).toBe(false);
		});

		it("should take dead letters from an outbox and from RabbitMQ, and the answers of replay and purge", () => {
			const fromOutbox = toFailedEventView("orders", {
				id: "7",
				event_name: "order.created",
				consumer_group: "processor",
				payload: { orderId: row.id, correlationId: "req-1" },
				meta: null,
				attempts: 5,
				replays: 0,
				last_error: "boom",
				last_error_name: "Error",
				failed_at: new Date("2025-01-01T00:00:00Z")
			});
			const fromQueue = toDeadLetterView(
				{ content: Buffer.from("not a packet"), properties: { headers: {}, messageId: undefined } } as never,
				{ event: "order.created", group: "processor", main: "MOL.processor.order.created" }
			);
			expect(validate("deadLetters.get", 200, fromOutbox)).toMatchObject({ valid: true });
			expect(validate("deadLetters.replay", 200, fromQueue)).toMatchObject({ valid: true });
			expect(validate("deadLetters.list", 200, { rows: [fromOutbox, fromQueue], count: 2 })).toMatchObject({ valid: true });
			expect(validate("deadLetters.replayAll", 200, { replayed: 1, ids: [fromOutbox.id] })).toMatchObject({ valid: true });
			expect(validate("deadLetters.purgeAll", 200, { purged: 0, ids: [] })).toMatchObject({ valid: true });
			expect(validate("deadLetters.purgeAll", 200, { replayed: 0, ids: [] }).valid).toBe(false);
		});

		it("should take the health answers, and readiness's problem as api.ready makes it, with no detail of the checks", () => {
			expect(validate("api.live", 200, { status: "ok" })).toMatchObject({ valid: true });
			expect(validate("api.ready", 200, { status: "ok" })).toMatchObject({ valid: true });
			expect(validate("api.ready", 200, { status: "ok", checks: { ordersDatabase: "ok", broker: "ok" } }).valid).toBe(false);
			const outbox = { orders: { pending: 3, oldestPendingAgeSeconds: 12.5 } };
			expect(validate("api.ready", 200, { status: "ok", outbox }).valid).toBe(false);
			const { problem } = toProblem(new NotReadyError(), { method: "GET", url: "/api/health/ready" });
			expect(validate("api.ready", 503, { ...problem, instance: "/api/health/ready" })).toMatchObject({ valid: true });
			expect(validate("api.openapi", 200, document)).toMatchObject({ valid: true });
		});

		it("should take problems as the gateway writes them", () => {
			const error = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
				{ field: "items[0].quantity", message: "must be >= 1", type: "minimum" }
			]);
			const { problem } = toProblem(error, { method: "POST", url: "/api/orders" });
			const written = { ...problem, instance: "/api/orders", correlationId: "req-1" };
			expect(validate("orders.create", 400, written)).toMatchObject({ valid: true });
			expect(validate("orders.create", 400, { ...written, status: "400" }).valid).toBe(false);
		});
	});
});
