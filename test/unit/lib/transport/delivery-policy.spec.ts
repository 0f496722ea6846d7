import { Errors } from "moleculer";
import {
	DeadLetterReason,
	decideDelivery,
	isPermanentFailure,
	retryDelayMs,
	type DeliveryPolicy
} from "../../../../lib/transport/delivery-policy";
import { readEnvironment } from "../../../../moleculer.config";

const lowest = () => 0;
const highest = () => 1;

describe("Test 'retryDelayMs'", () => {
	it("should wait half the delay when the jitter is lowest", () => {
		expect(retryDelayMs(1, 1000, 60_000, lowest)).toBe(500);
	});

	it("should wait the full delay when the jitter is highest", () => {
		expect(retryDelayMs(1, 1000, 60_000, highest)).toBe(1000);
	});

	it("should wait three quarters of the delay for a middle jitter", () => {
		expect(retryDelayMs(1, 1000, 60_000, () => 0.5)).toBe(750);
	});

	it("should double the delay with every attempt", () => {
		expect([1, 2, 3, 4].map(attempt => retryDelayMs(attempt, 1000, 60_000, highest))).toEqual([1000, 2000, 4000, 8000]);
		expect([1, 2, 3, 4].map(attempt => retryDelayMs(attempt, 1000, 60_000, lowest))).toEqual([500, 1000, 2000, 4000]);
	});

	it("should never exceed the maximum delay", () => {
		expect(retryDelayMs(10, 1000, 30_000, highest)).toBe(30_000);
		expect(retryDelayMs(10, 1000, 30_000, lowest)).toBe(15_000);
	});

	it("should stay finite and capped for a very high attempt number", () => {
		expect(retryDelayMs(5000, 1000, 30_000, highest)).toBe(30_000);
	});

	it("should treat attempt 0 like the first attempt", () => {
		expect(retryDelayMs(0, 1000, 60_000, highest)).toBe(1000);
	});

	it("should round to whole milliseconds", () => {
		expect(retryDelayMs(1, 3, 60_000, () => 0.3)).toBe(2);
		expect(Number.isInteger(retryDelayMs(3, 333, 60_000, () => 0.77))).toBe(true);
	});

	it("should stay within half and all of the delay with the default random source", () => {
		for (let i = 0; i < 50; i++) {
			const delay = retryDelayMs(3, 1000, 60_000);
			expect(delay).toBeGreaterThanOrEqual(2000);
			expect(delay).toBeLessThanOrEqual(4000);
		}
	});
});

describe("Test 'isPermanentFailure'", () => {
	it("should call a client error permanent, a validation error included", () => {
		expect(isPermanentFailure(new Errors.MoleculerClientError("refused", 400, "REFUSED"))).toBe(true);
		expect(isPermanentFailure(new Errors.ValidationError("bad payload", "VALIDATION_ERROR", []))).toBe(true);
	});

	it("should call a passing fault, a retryable error or no error at all not permanent", () => {
		expect(isPermanentFailure(new Error("connect ECONNREFUSED"))).toBe(false);
		expect(isPermanentFailure(new Errors.MoleculerRetryableError("busy", 503, "BUSY"))).toBe(false);
		expect(isPermanentFailure(undefined)).toBe(false);
	});
});

describe("Test 'decideDelivery'", () => {
	const policy: DeliveryPolicy = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 };
	const passing = new Error("database is away");

	it("should retry a passing fault after the backoff delay of its attempt", () => {
		expect(decideDelivery(passing, 1, policy, highest)).toEqual({ action: "retry", delayMs: 1000 });
		expect(decideDelivery(passing, 2, policy, highest)).toEqual({ action: "retry", delayMs: 2000 });
		expect(decideDelivery(passing, 2, policy, lowest)).toEqual({ action: "retry", delayMs: 1000 });
	});

	it("should dead-letter a passing fault on the last allowed attempt", () => {
		expect(decideDelivery(passing, 3, policy)).toEqual({ action: "dead-letter", reason: DeadLetterReason.AttemptsExhausted });
	});

	it("should dead-letter an attempt past the budget, never retry it", () => {
		expect(decideDelivery(passing, 7, policy)).toEqual({ action: "dead-letter", reason: DeadLetterReason.AttemptsExhausted });
	});

	it("should dead-letter a refusal at once, whatever attempts are left", () => {
		const refusal = new Errors.MoleculerClientError("unknown customer", 422, "REFUSED");
		expect(decideDelivery(refusal, 1, policy)).toEqual({ action: "dead-letter", reason: DeadLetterReason.Permanent });
	});

	it("should dead-letter on the first failure when only one attempt is allowed", () => {
		expect(decideDelivery(passing, 1, { ...policy, maxAttempts: 1 })).toEqual({
			action: "dead-letter",
			reason: DeadLetterReason.AttemptsExhausted
		});
	});

	it("should cap the delay at the policy's maximum", () => {
		const decision = decideDelivery(passing, 9, { maxAttempts: 10, baseDelayMs: 1000, maxDelayMs: 5000 }, highest);
		expect(decision).toEqual({ action: "retry", delayMs: 5000 });
	});

	it("should retry five times a second apart, doubling, with the environment's defaults", () => {
		const { delivery } = readEnvironment({});
		expect(delivery).toEqual({ maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 });
		const delays = [1, 2, 3, 4].map(attempt => decideDelivery(passing, attempt, delivery, highest));
		expect(delays).toEqual([1000, 2000, 4000, 8000].map(delayMs => ({ action: "retry", delayMs })));
		expect(decideDelivery(passing, 5, delivery).action).toBe("dead-letter");
	});
});
