import { RateLimiterMemory } from "rate-limiter-flexible";
import { createCallerRateLimiter, type CallerRateLimiter } from "../../../../lib/http/rate-limit";

function recordingLogger() {
	const lines: Array<{ level: string; message: string }> = [];
	return {
		lines,
		info: (message: string) => lines.push({ level: "info", message }),
		warn: (message: string) => lines.push({ level: "warn", message })
	};
}

describe("Test 'createCallerRateLimiter' without a database", () => {
	const limiters: CallerRateLimiter[] = [];
	afterEach(async () => {
		await Promise.all(limiters.splice(0).map(l => l.close()));
	});
	async function limiter(perMinute: number) {
		const logger = recordingLogger();
		const created = await createCallerRateLimiter({ perMinute, logger });
		limiters.push(created);
		return { limiter: created, logger };
	}

	describe("with a limit", () => {
		it("should keep its counters in memory", async () => {
			const { limiter: l } = await limiter(3);
			expect(l.store).toBe("memory");
			expect(l.perMinute).toBe(3);
			expect(l.degraded).toBe(false);
		});

		it("should allow N requests, counting down, and refuse the (N+1)th with a retry-after", async () => {
			const { limiter: l } = await limiter(3);

			const allowed = [await l.consume("ip:1.2.3.4"), await l.consume("ip:1.2.3.4"), await l.consume("ip:1.2.3.4")];
			const refused = await l.consume("ip:1.2.3.4");

			expect(allowed.map(d => d.allowed)).toEqual([true, true, true]);
			expect(allowed.map(d => d.remaining)).toEqual([2, 1, 0]);
			expect(allowed.every(d => d.limit === 3 && d.retryAfterSeconds === 0)).toBe(true);
			expect(allowed[0].resetSeconds).toBeGreaterThan(0);
			expect(allowed[0].resetSeconds).toBeLessThanOrEqual(60);
			expect(refused).toEqual({ allowed: false, limit: 3, remaining: 0, resetSeconds: expect.any(Number), retryAfterSeconds: expect.any(Number) });
			expect(refused.retryAfterSeconds).toBeGreaterThan(0);
			expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
			expect(refused.resetSeconds).toBe(refused.retryAfterSeconds);
		});

		it("should keep refusing while the window lasts", async () => {
			const { limiter: l } = await limiter(1);
			await l.consume("sub:a");
			const refusals = await Promise.all(Array.from({ length: 20 }, () => l.consume("sub:a")));
			expect(refusals.every(d => !d.allowed)).toBe(true);
		});

		it("should count every key on its own", async () => {
			const { limiter: l } = await limiter(1);
			expect((await l.consume("sub:a")).allowed).toBe(true);
			expect((await l.consume("sub:a")).allowed).toBe(false);
			expect((await l.consume("sub:b")).allowed).toBe(true);
			expect((await l.consume("ip:1.2.3.4")).allowed).toBe(true);
		});

		it("should count two long keys that differ only at the end apart", async () => {
			const { limiter: l } = await limiter(1);
			const long = "sub:" + "x".repeat(500);
			expect((await l.consume(long + "1")).allowed).toBe(true);
			expect((await l.consume(long + "2")).allowed).toBe(true);
			expect((await l.consume(long + "1")).allowed).toBe(false);
		});

		it("should let a request through with one warning, not throw, when the limiter itself fails", async () => {
			const { limiter: l, logger } = await limiter(1);
			// What no store limiter with insurance does; a stand-in for a bug.
			jest.spyOn(RateLimiterMemory.prototype, "consume").mockRejectedValue(new Error("boom"));
			try {
				const decisions = [await l.consume("sub:a"), await l.consume("sub:a")];
				expect(decisions.map(d => d.allowed)).toEqual([true, true]);
				expect(logger.lines).toEqual([{ level: "warn", message: expect.stringContaining("boom") }]);
			} finally {
				jest.restoreAllMocks();
			}
		});
	});

	describe("with perMinute 0", () => {
		it("should be off and allow every request", async () => {
			const { limiter: l } = await limiter(0);
			expect(l.store).toBe("off");
			const decisions = await Promise.all(Array.from({ length: 1000 }, () => l.consume("ip:1.2.3.4")));
			expect(decisions.every(d => d.allowed && d.retryAfterSeconds === 0)).toBe(true);
		});
	});

	it.each([-1, 1.5, Number.NaN])("should refuse perMinute %p", async perMinute => {
		await expect(createCallerRateLimiter({ perMinute, logger: recordingLogger() })).rejects.toThrow(RangeError);
	});
});
