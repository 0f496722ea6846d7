import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import { problemCode, toProblem } from "../../../../services/api/problem";
import { PROBLEM_CODES } from "../../../../lib/contracts/problems";
import * as authErrors from "../../../../lib/auth/auth.errors";
import * as httpErrors from "../../../../lib/http/errors";
import * as apiErrors from "../../../../services/api/api.errors";
import * as ordersErrors from "../../../../services/orders/orders.errors";
import * as processorErrors from "../../../../services/processor/processor.errors";
import * as deadLettersErrors from "../../../../services/dead-letters/dead-letters.errors";
import * as deadLetterStore from "../../../../lib/transport/dead-letter-store";
import { ForbiddenCustomerError, IdempotencyKeyInFlightError, IdempotencyKeyReusedError, OrderNotFoundError } from "../../../../services/orders/orders.errors";
import { ForbiddenRoleError, IdentityProviderUnavailableError, InvalidTokenError, MissingTokenError, TokenExpiredError } from "../../../../lib/auth/auth.errors";
import { RateLimitExceededError } from "../../../../lib/http/rate-limit";
import {
	BodyTooDeepError,
	InvalidHeaderError,
	MethodNotAllowedError,
	NotReadyError,
	UnsupportedMediaTypeError
} from "../../../../services/api/api.errors";

const request = { method: "POST", url: "/api/orders" };

describe("Test 'toProblem'", () => {
	describe("validation errors", () => {
		const error = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{ field: "items[0].quantity", message: "must be >= 1", type: "minimum" }
		]);

		it("should answer 400 with a validation-error type", () => {
			const { problem, unexpected } = toProblem(error, request);
			expect(problem.status).toBe(400);
			expect(problem.type).toMatch(/validation-error$/);
			expect(unexpected).toBe(false);
		});

		it("should list each offending field with its message", () => {
			const { problem } = toProblem(error, request);
			expect(problem.errors).toEqual([{ field: "items[0].quantity", message: "must be >= 1" }]);
		});

		it("should name the offending field in the detail", () => {
			const { problem } = toProblem(error, request);
			expect(problem.detail).toBe("Fix these fields: 'items[0].quantity' must be >= 1.");
		});

		it("should join several fields in the detail", () => {
			const several = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
				{ field: "customerId", message: "is required", type: "required" },
				{ field: "currency", message: "must be one of: EUR, USD", type: "enum" }
			]);
			const { problem } = toProblem(several, request);
			expect(problem.detail).toBe("Fix these fields: 'customerId' is required; 'currency' must be one of: EUR, USD.");
			expect(problem.errors).toHaveLength(2);
		});

		it("should fall back to the error message when no field is listed", () => {
			const bare = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR");
			const { problem } = toProblem(bare, request);
			expect(problem.status).toBe(400);
			expect(problem.detail).toBe("Parameters validation error!");
			expect(problem.errors).toEqual([]);
		});
	});

	describe("body-parser errors", () => {
		it("should answer 400 malformed-json for a body that is not JSON", () => {
			const { problem, unexpected } = toProblem({ type: "entity.parse.failed", status: 400, message: "Unexpected token" }, request);
			expect(problem.status).toBe(400);
			expect(problem.type).toMatch(/malformed-json$/);
			expect(problem.detail).toContain("Unexpected token");
			expect(unexpected).toBe(false);
		});

		it("should answer 413 with the limit for a body that is too large", () => {
			const { problem, unexpected } = toProblem({ type: "entity.too.large", status: 413, limit: 102400 }, request);
			expect(problem.status).toBe(413);
			expect(problem.type).toMatch(/payload-too-large$/);
			expect(problem.detail).toContain("102400 bytes");
			expect(unexpected).toBe(false);
		});

		it("should name the gateway's own limit when the error carries none", () => {
			const { problem } = toProblem({ type: "entity.too.large", status: 413 }, request);
			expect(problem.detail).toBe("The request body is larger than the limit of 102400 bytes (100 kB).");
		});

		it("should answer 400 naming Content-Encoding for a body that does not decode (zlib's code, body-parser's status)", () => {
			const error = Object.assign(new Error("incorrect header check"), { code: "Z_DATA_ERROR", status: 400 });
			const { problem, unexpected } = toProblem(error, request);
			expect(problem.status).toBe(400);
			expect(problem.type).toMatch(/invalid-content-encoding$/);
			expect(problem.detail).toContain("'Content-Encoding'");
			expect(unexpected).toBe(false);
		});

		it.each([
			["zstd", "ZSTD_error_prefix_unknown"],
			["brotli", "ERR__ERROR_FORMAT_PADDING_2"]
		])("should answer 400 naming Content-Encoding for %s that does not decode", (_name, code) => {
			const { problem, unexpected } = toProblem(Object.assign(new Error("Decompression failed"), { code }), request);
			expect(problem.status).toBe(400);
			expect(problem.type).toMatch(/invalid-content-encoding$/);
			expect(unexpected).toBe(false);
		});

		it("should read the status of an error whose code is a word", () => {
			const error = Object.assign(new Error("request aborted"), { code: "ECONNABORTED", status: 400, type: "request.aborted" });
			expect(toProblem(error, request).problem.status).toBe(400);
		});

		it("should answer 415 for a body in an unsupported charset", () => {
			const { problem } = toProblem({ type: "charset.unsupported", status: 415, message: "unsupported charset \"KOI8-R\"" }, request);
			expect(problem.status).toBe(415);
			expect(problem.type).toMatch(/unsupported-media-type$/);
		});
	});

	describe("routing errors", () => {
		it("should answer 405 for a method the path does not answer, keeping the allowed ones", () => {
			const error = new MethodNotAllowedError("DELETE", "/api/orders", ["GET", "HEAD", "POST", "OPTIONS"]);
			const { problem, unexpected } = toProblem(error, request);
			expect(problem).toMatchObject({ status: 405, title: "Method not allowed" });
			expect(problem.detail).toBe("/api/orders does not answer DELETE; it answers GET, HEAD, POST, OPTIONS.");
			expect(unexpected).toBe(false);
		});

		it("should answer 400 for a body nested too deep", () => {
			expect(toProblem(new BodyTooDeepError(32), request).problem).toMatchObject({ status: 400, type: expect.stringMatching(/body-too-deep$/) });
		});

		it("should answer 404 naming the method and the path without its query string", () => {
			const error = new ApiGateway.Errors.NotFoundError("NOT_FOUND", undefined);
			const { problem, unexpected } = toProblem(error, { method: "GET", url: "/api/nothing-here?page=2&secret=1" });
			expect(problem.status).toBe(404);
			expect(problem.type).toMatch(/not-found$/);
			expect(problem.detail).toBe("No route matches GET /api/nothing-here.");
			expect(problem.detail).not.toContain("secret");
			expect(unexpected).toBe(false);
		});
	});

	describe("the product's own errors", () => {
		it("should answer 404 for an unknown order, with the error's message", () => {
			const { problem, unexpected } = toProblem(new OrderNotFoundError("abc"), { method: "GET", url: "/api/orders/abc" });
			expect(problem.status).toBe(404);
			expect(problem.title).toBe("Not found");
			expect(problem.type).toMatch(/order-not-found$/);
			expect(problem.detail).toBe("Order 'abc' was not found.");
			expect(unexpected).toBe(false);
		});

		it.each([
			["no token", new MissingTokenError(), 401, "MISSING_TOKEN"],
			["a refused token", new InvalidTokenError("the signature does not verify"), 401, "INVALID_TOKEN"],
			["an expired token", new TokenExpiredError(), 401, "TOKEN_EXPIRED"],
			["a customer on an admin route", new ForbiddenRoleError("admin", "customer"), 403, "FORBIDDEN_ROLE"],
			["a customer naming another", new ForbiddenCustomerError("c-1", "c-2", "place orders only for itself"), 403, "FORBIDDEN_CUSTOMER"],
			["a key still in flight", new IdempotencyKeyInFlightError("key-1"), 409, "IDEMPOTENCY_KEY_IN_FLIGHT"],
			["a spent rate limit", new RateLimitExceededError(600, 12), 429, "RATE_LIMITED"]
		])("should answer %s with its status and error code, and nothing from the error's data", (_case, error, status, code) => {
			const { problem, unexpected } = toProblem(error, request);
			expect(problem).toMatchObject({ status, code, type: `urn:order-pipeline:problem:${code.toLowerCase().replace(/_/g, "-")}` });
			expect(problem.detail.length).toBeGreaterThan(20);
			expect(problem).not.toHaveProperty("wwwAuthenticate");
			expect(problem).not.toHaveProperty("retryAfter");
			expect(unexpected).toBe(false);
		});

		it("should answer 422 for a reused idempotency key", () => {
			const { problem } = toProblem(new IdempotencyKeyReusedError("key-1"), request);
			expect(problem.status).toBe(422);
			expect(problem.type).toMatch(/idempotency-key-reused$/);
			expect(problem.detail).toContain("key-1");
		});

		it("should answer 415 for a body that is not JSON", () => {
			const { problem } = toProblem(new UnsupportedMediaTypeError("text/plain"), request);
			expect(problem.status).toBe(415);
			expect(problem.title).toBe("Unsupported media type");
			expect(problem.detail).toContain("text/plain");
		});

		it("should answer 400 for a bad header", () => {
			const { problem } = toProblem(new InvalidHeaderError("Idempotency-Key", "must be 1 to 200 characters"), request);
			expect(problem.status).toBe(400);
			expect(problem.type).toMatch(/invalid-header$/);
			expect(problem.detail).toBe("Header 'Idempotency-Key' must be 1 to 200 characters.");
		});

		it("should answer 503, not 401, when the identity provider's keys could not be read, saying when to try again", () => {
			const { problem, unexpected } = toProblem(new IdentityProviderUnavailableError(8), request);
			expect(problem).toMatchObject({
				status: 503,
				title: "Service unavailable",
				type: "urn:order-pipeline:problem:identity-provider-unavailable",
				code: "IDENTITY_PROVIDER_UNAVAILABLE"
			});
			expect(problem.detail).toMatch(/^The identity provider's keys could not be read.*Try again in 8 s\.$/);
			expect(problem).not.toHaveProperty("retryAfter");
			expect(unexpected).toBe(false);
		});

		it("should answer 503 for a node that is not ready, naming no dependency", () => {
			const { problem, unexpected } = toProblem(new NotReadyError(), { method: "GET", url: "/health/ready" });
			expect(problem.status).toBe(503);
			expect(problem.type).toMatch(/not-ready$/);
			expect(Object.keys(problem).sort()).toEqual(["code", "detail", "status", "title", "type"]);
			expect(problem.detail).toBe("This node is not ready to serve requests; retry shortly (or through another node).");
			expect(unexpected).toBe(false);
		});
	});

	describe("broker errors", () => {
		it("should answer 503 when the service is not found", () => {
			const { problem, unexpected } = toProblem(new Errors.ServiceNotFoundError({ action: "orders.create" }), request);
			expect(problem.status).toBe(503);
			expect(problem.type).toMatch(/service-unavailable$/);
			expect(problem.detail).not.toContain("orders.create");
			expect(unexpected).toBe(false);
		});

		it("should answer 503 when the service is not available", () => {
			const { problem } = toProblem(new Errors.ServiceNotAvailableError({ action: "orders.create", nodeID: "node-1" }), request);
			expect(problem.status).toBe(503);
			expect(problem.detail).not.toContain("node-1");
		});

		it("should answer 503 'busy' when too many creates wait for their turn, naming neither the action nor the node", () => {
			const { problem, unexpected } = toProblem(new Errors.QueueIsFullError({ action: "orders.create", nodeID: "node-1" }), request);
			expect(problem.status).toBe(503);
			expect(problem.type).toMatch(/busy$/);
			expect(problem.detail).toMatch(/nothing was done\. Try again in a second/);
			expect(problem.detail).not.toContain("node-1");
			expect(problem.detail).not.toContain("orders.create");
			expect(unexpected).toBe(false);
		});

		it("should answer 504 when the request timed out", () => {
			const { problem, unexpected } = toProblem(new Errors.RequestTimeoutError({ action: "orders.create", nodeID: "node-1" }), request);
			expect(problem.status).toBe(504);
			expect(problem.type).toMatch(/timeout$/);
			expect(problem.detail).not.toContain("node-1");
			// The way to learn the outcome that works: the same request with the same Idempotency-Key.
			expect(problem.detail).toMatch(/send it again: with the same Idempotency-Key header, POST \/api\/orders answers with the order the first attempt made/);
			expect(unexpected).toBe(false);
		});

		it("should answer 503 when the message broker is disconnected", () => {
			const { problem } = toProblem(new Errors.BrokerDisconnectedError("disconnected"), request);
			expect(problem.status).toBe(503);
			expect(problem.type).toMatch(/service-unavailable$/);
		});
	});

	describe("the gateway's own unavailability", () => {
		it("should answer 503, not 500, when the action's service has not started yet", () => {
			const { problem, unexpected } = toProblem(
				// As moleculer-web throws it: without a type.
				new (ApiGateway.Errors.ServiceUnavailableError as unknown as new () => Error)(),
				{ method: "POST", url: "/api/orders" }
			);
			expect(problem.status).toBe(503);
			expect(problem.detail).toContain("try again");
			expect(unexpected).toBe(false);
		});
	});

	describe("errors that would reveal the inside", () => {
		it("should answer a rejected request with a generic 503 that names no node or action", () => {
			const err = new Errors.RequestRejectedError({ action: "orders.create", nodeID: "db-host-1234" });
			const { problem } = toProblem(err, { method: "POST", url: "/api/orders" });
			expect(problem.status).toBe(503);
			expect(JSON.stringify(problem)).not.toMatch(/db-host-1234|orders\.create/);
		});

		it("should tell nothing of a not-ready error's data, even fields named like the core members", () => {
			const err = new Errors.MoleculerError("not ready", 503, "NOT_READY", { status: 200, title: "x", checks: { a: "down" } });
			const { problem } = toProblem(err, { method: "GET", url: "/api/health/ready" });
			expect(problem.status).toBe(503);
			expect(problem.title).toBe("Service unavailable");
			expect(problem).not.toHaveProperty("checks");
		});
	});

	describe("unexpected errors", () => {
		it("should answer a plain 500 and flag the error for logging", () => {
			const { problem, unexpected } = toProblem(new Error("boom at /secret/path"), request);
			expect(problem.status).toBe(500);
			expect(problem.type).toMatch(/internal-error$/);
			expect(unexpected).toBe(true);
		});

		it("should not reveal the error's message in the detail", () => {
			const { problem } = toProblem(new Error("boom at /secret/path"), request);
			expect(problem.detail).not.toContain("boom");
			expect(problem.detail).not.toContain("/secret/path");
			expect(JSON.stringify(problem)).not.toContain("boom");
		});

		it("should not reveal the message of a database error with a string code", () => {
			const error = Object.assign(new Error("duplicate key value violates unique constraint \"orders_pkey\""), { code: "23505" });
			const { problem, unexpected } = toProblem(error, request);
			expect(problem.status).toBe(500);
			expect(JSON.stringify(problem)).not.toContain("orders_pkey");
			expect(unexpected).toBe(true);
		});

		it("should answer 500 for a Moleculer server error", () => {
			const { problem, unexpected } = toProblem(new Errors.MoleculerServerError("db down", 500, "DB_DOWN"), request);
			expect(problem.status).toBe(500);
			expect(problem.detail).not.toContain("db down");
			expect(unexpected).toBe(true);
		});

		it("should answer 500 for a thrown non-error", () => {
			expect(toProblem(undefined, request).problem.status).toBe(500);
			expect(toProblem("oops", request).problem.status).toBe(500);
		});
	});
});

describe("Test the problems' 'code'", () => {
	// One error for each way toProblem makes a problem.
	const errors: unknown[] = [
		new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [{ field: "currency", message: "is required", type: "required" }]),
		{ type: "entity.parse.failed", status: 400, message: "Unexpected token" },
		{ type: "entity.too.large", status: 413, limit: 102400 },
		Object.assign(new Error("incorrect header check"), { code: "Z_DATA_ERROR", status: 400 }),
		{ type: "encoding.unsupported", status: 415, message: "unsupported content encoding" },
		{ type: "charset.unsupported", status: 415, message: "unsupported charset" },
		{ type: "UNABLE_DECODE_PARAM", code: 400, message: "bad" },
		new ApiGateway.Errors.NotFoundError("NOT_FOUND", {}),
		new Errors.ServiceNotFoundError({ action: "orders.create" }),
		new Errors.QueueIsFullError({ action: "orders.create", nodeID: "n", size: 1, limit: 1 }),
		new Errors.RequestTimeoutError({ action: "orders.create", nodeID: "n" }),
		new MissingTokenError(),
		new InvalidTokenError("bad signature"),
		new TokenExpiredError(),
		new ForbiddenRoleError("admin", "customer"),
		new IdentityProviderUnavailableError(8),
		new ForbiddenCustomerError("a", "b", "place orders only for itself"),
		new OrderNotFoundError("x"),
		new IdempotencyKeyInFlightError("k"),
		new IdempotencyKeyReusedError("k"),
		new RateLimitExceededError(60, 5),
		new MethodNotAllowedError("PATCH", "/api/orders", ["GET", "POST"]),
		new BodyTooDeepError(32),
		new InvalidHeaderError("Idempotency-Key", "is too long"),
		new UnsupportedMediaTypeError("text/plain"),
		new NotReadyError(),
		new Error("boom")
	];

	it("should be on every problem, the type's last part in capitals", () => {
		for (const error of errors) {
			const { problem } = toProblem(error, request);
			expect(problem.code).toBe(problemCode(problem.type.replace("urn:order-pipeline:problem:", "")));
		}
	});

	it("should be one the document lists, with the status it lists", () => {
		for (const error of errors) {
			const { problem } = toProblem(error, request);
			expect([problem.code, PROBLEM_CODES[problem.code as keyof typeof PROBLEM_CODES]?.[0]]).toEqual([problem.code, problem.status]);
		}
	});

	it("should list the code of every error class of the product", () => {
		const modules = [authErrors, httpErrors, apiErrors, ordersErrors, processorErrors, deadLettersErrors, deadLetterStore];
		const codes = modules.flatMap(module => Object.entries(module).filter(([name]) => name.startsWith("ERR_")).map(([, value]) => value as string));
		expect(codes.length).toBeGreaterThan(15);
		expect(codes.filter(code => !(code in PROBLEM_CODES))).toEqual([]);
	});
});
