import { Errors } from "moleculer";
import { RateLimitExceededError } from "../../../../lib/http/errors";
import { toProblem } from "../../../../services/api/problem";

describe("Test 'RateLimitExceededError'", () => {
	const error = new RateLimitExceededError(600, 17);

	it("should be a 429 client error of type RATE_LIMITED with the seconds to wait", () => {
		expect(error).toBeInstanceOf(Errors.MoleculerClientError);
		expect(error.code).toBe(429);
		expect(error.type).toBe("RATE_LIMITED");
		expect(error.data).toEqual({ retryAfter: 17 });
	});

	it("should say what the limit is and how long to wait", () => {
		expect(error.message).toBe("Too many requests: 600 per minute for this caller; retry after 17 seconds.");
		expect(new RateLimitExceededError(5, 1).message).toBe("Too many requests: 5 per minute for this caller; retry after 1 second.");
	});

	it("should become a 429 problem that carries its message", () => {
		const { problem, unexpected } = toProblem(error, { method: "GET", url: "/api/orders" });
		expect(unexpected).toBe(false);
		expect(problem).toMatchObject({ status: 429, title: "Too many requests", type: expect.stringMatching(/rate-limited$/), detail: error.message });
	});
});
