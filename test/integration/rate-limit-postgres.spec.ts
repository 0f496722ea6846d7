/**
 * The caller rate limiter on the real PostgreSQL, as several api instances use it: one budget per
 * caller shared through one database, a fresh database that several instances set up at once, and a
 * database that does not answer (at start, or later) while requests keep coming.
 */
import { createCallerRateLimiter, DEFAULT_RATE_LIMIT_TABLE, type CallerRateLimiter, type RateLimitDecision } from "../../lib/http/rate-limit";
import { ADMIN_DATABASE_URL, createTestDatabase, freePort, queryDatabase, uniqueSuffix, waitFor, type TestDatabase } from "../support/services";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

interface LogLine {
	level: "info" | "warn";
	message: string;
}

const admin = new URL(ADMIN_DATABASE_URL);

/** `url` with its port replaced: the same database behind a proxy, or on a port nobody listens on. */
function onPort(url: string, port: number): string {
	const u = new URL(url);
	u.port = String(port);
	return u.toString();
}

const allowedOf = (decisions: RateLimitDecision[]) => decisions.map(d => d.allowed);

describe("Caller rate limiting on the real PostgreSQL", () => {
	let db: TestDatabase;
	const limiters: CallerRateLimiter[] = [];

	beforeAll(async () => {
		db = await createTestDatabase("ratelimit");
	});
	afterEach(async () => {
		await Promise.all(limiters.splice(0).map(l => l.close()));
	});
	afterAll(() => db?.drop());

	/** One api instance's limiter; its log lines are collected. */
	async function apiInstance(perMinute: number, databaseUrl: string, storeRetryMs = 50): Promise<{ limiter: CallerRateLimiter; logs: LogLine[] }> {
		const logs: LogLine[] = [];
		const limiter = await createCallerRateLimiter({
			perMinute,
			databaseUrl,
			storeRetryMs,
			logger: { info: message => logs.push({ level: "info", message }), warn: message => logs.push({ level: "warn", message }) }
		});
		limiters.push(limiter);
		return { limiter, logs };
	}

	/** Consumes `key` `times` times, one after the other. */
	async function consumeTimes(limiter: CallerRateLimiter, key: string, times: number): Promise<RateLimitDecision[]> {
		const decisions: RateLimitDecision[] = [];
		for (let i = 0; i < times; i++) decisions.push(await limiter.consume(key));
		return decisions;
	}

	const pointsOf = async (key: string) =>
		(await queryDatabase<{ points: number }>(db.url, `SELECT points FROM ${DEFAULT_RATE_LIMIT_TABLE} WHERE key = $1`, [key]))[0]?.points;

	describe("Two api instances on one database", () => {
		it("should share one budget per caller: 3 on A and 2 on B allowed, the next on either refused", async () => {
			const a = await apiInstance(5, db.url);
			const b = await apiInstance(5, db.url);
			expect([a.limiter.store, b.limiter.store]).toEqual(["postgres", "postgres"]);
			const key = `sub:shared-${uniqueSuffix()}`;

			const onA = await consumeTimes(a.limiter, key, 3);
			const onB = await consumeTimes(b.limiter, key, 2);
			const nextOnA = await a.limiter.consume(key);
			const nextOnB = await b.limiter.consume(key);

			expect(allowedOf(onA)).toEqual([true, true, true]);
			expect(onA.map(d => d.remaining)).toEqual([4, 3, 2]);
			expect(allowedOf(onB)).toEqual([true, true]);
			expect(onB.map(d => d.remaining)).toEqual([1, 0]);
			expect(nextOnA).toMatchObject({ allowed: false, limit: 5, remaining: 0 });
			expect(nextOnB).toMatchObject({ allowed: false, limit: 5, remaining: 0 });
			expect(nextOnA.retryAfterSeconds).toBeGreaterThan(0);
			expect(nextOnA.retryAfterSeconds).toBeLessThanOrEqual(60);
			expect(nextOnB.retryAfterSeconds).toBeGreaterThan(0);
			expect(a.logs).toEqual([]);
			expect(b.logs).toEqual([]);
		});

		it("should count different callers apart", async () => {
			const a = await apiInstance(2, db.url);
			const b = await apiInstance(2, db.url);
			const [alice, bob, address] = [`sub:alice-${uniqueSuffix()}`, `sub:bob-${uniqueSuffix()}`, `ip:198.51.100.${Math.floor(Math.random() * 250)}`];

			await consumeTimes(a.limiter, alice, 2);
			expect((await b.limiter.consume(alice)).allowed).toBe(false);

			expect(allowedOf(await consumeTimes(b.limiter, bob, 2))).toEqual([true, true]);
			expect(allowedOf([await a.limiter.consume(address), await b.limiter.consume(address)])).toEqual([true, true]);
			expect(await pointsOf(bob)).toBe(2);
		});

		it("should allow exactly the budget when both instances take requests of one caller at the same time", async () => {
			const a = await apiInstance(10, db.url);
			const b = await apiInstance(10, db.url);
			const key = `sub:burst-${uniqueSuffix()}`;

			const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).limiter.consume(key)));

			expect(decisions.filter(d => d.allowed)).toHaveLength(10);
			expect(decisions.filter(d => !d.allowed).every(d => d.retryAfterSeconds > 0)).toBe(true);
		});
	});

	describe("Keys that are not short printable ASCII", () => {
		it.each([
			["a subject longer than the column", `sub:${"x".repeat(300)}`],
			["a subject with a NUL character", "sub:a\u0000b"],
			["a subject in another script", "sub:заказчик"]
		])("should count %s in the database without tripping the store", async (_, key) => {
			const { limiter, logs } = await apiInstance(1, db.url);
			expect(allowedOf([await limiter.consume(key), await limiter.consume(key)])).toEqual([true, false]);
			expect(limiter.degraded).toBe(false);
			expect(logs).toEqual([]);
		});
	});

	describe("Several api instances starting at once on a fresh database", () => {
		const name = `t_ratelimit_fresh_${uniqueSuffix()}`;
		const url = (() => {
			const u = new URL(ADMIN_DATABASE_URL);
			u.pathname = `/${name}`;
			return u.toString();
		})();
		afterAll(() => queryDatabase(ADMIN_DATABASE_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));

		it("should create the database and the table without a failure on any of them, and share one budget", async () => {
			const instances = await Promise.all(Array.from({ length: 6 }, () => apiInstance(6, url)));

			for (const { limiter, logs } of instances) {
				expect(limiter.store).toBe("postgres");
				expect(limiter.degraded).toBe(false);
				expect(logs.filter(l => l.level === "warn")).toEqual([]);
			}
			const created = instances.flatMap(i => i.logs).filter(l => l.message.includes(`created database '${name}'`));
			expect(created).toHaveLength(1);

			const key = `sub:fresh-${uniqueSuffix()}`;
			const decisions = await Promise.all(instances.map(i => i.limiter.consume(key)));
			expect(decisions.every(d => d.allowed)).toBe(true);
			expect((await instances[0].limiter.consume(key)).allowed).toBe(false);
			expect(
				await queryDatabase(url, `SELECT points FROM ${DEFAULT_RATE_LIMIT_TABLE} WHERE key = $1`, [key])
			).toEqual([{ points: 7 }]);
		});
	});

	describe("When the database cannot be reached at start", () => {
		it("should start, warn once, and still limit each instance in its own memory without throwing", async () => {
			const url = onPort(db.url, await freePort());

			const { limiter, logs } = await apiInstance(3, url, 1);

			expect(limiter.store).toBe("postgres");
			expect(limiter.degraded).toBe(true);
			expect(logs).toEqual([{ level: "warn", message: expect.stringContaining(`127.0.0.1:${new URL(url).port}/${db.name} does not answer (`) }]);
			expect(logs[0].message).toMatch(/ECONNREFUSED/);
			const key = "ip:203.0.113.7";
			const decisions = await consumeTimes(limiter, key, 50);
			expect(allowedOf(decisions.slice(0, 4))).toEqual([true, true, true, false]);
			expect(decisions.slice(3).every(d => !d.allowed && d.retryAfterSeconds > 0)).toBe(true);
			expect(logs).toHaveLength(1);
		});
	});

	describe("When the database answers only after the start", () => {
		let proxy: TcpProxy;
		beforeAll(async () => {
			proxy = await startTcpProxy(admin.hostname, Number(admin.port || 5432));
		});
		afterAll(() => proxy?.close());

		it("should count in memory meanwhile, with one warning, then create the table and share the budget", async () => {
			const name = `t_ratelimit_late_${uniqueSuffix()}`.toLowerCase();
			await queryDatabase(ADMIN_DATABASE_URL, `CREATE DATABASE "${name}"`);
			try {
				const direct = new URL(ADMIN_DATABASE_URL);
				direct.pathname = `/${name}`;
				proxy.down();
				const late = await apiInstance(2, onPort(direct.toString(), proxy.port), 20);
				expect(late.limiter.degraded).toBe(true);

				// Requests keep coming; the store is tried again now and then, and refuses each time.
				await waitFor("three more attempts on the store", async () => {
					await late.limiter.consume("ip:203.0.113.8");
					return proxy.refused() >= 4;
				});
				expect(late.logs.filter(l => l.level === "warn")).toHaveLength(1);

				proxy.up();
				await waitFor("the store to answer again", async () => {
					await late.limiter.consume("ip:203.0.113.9");
					return !late.limiter.degraded;
				});
				expect(late.logs.filter(l => l.level === "info")).toEqual([
					{ level: "info", message: expect.stringMatching(/^Rate limiting: the shared store .* answers again after \d+ s; counting there again\.$/) }
				]);
				const other = await apiInstance(2, direct.toString());
				const key = `sub:late-${uniqueSuffix()}`;
				expect(allowedOf([await late.limiter.consume(key), await other.limiter.consume(key), await late.limiter.consume(key)])).toEqual([
					true,
					true,
					false
				]);
			} finally {
				await Promise.all(limiters.splice(0).map(l => l.close()));
				await queryDatabase(ADMIN_DATABASE_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
			}
		});
	});

	describe("When the database stops answering", () => {
		let proxy: TcpProxy;
		beforeAll(async () => {
			proxy = await startTcpProxy(admin.hostname, Number(admin.port || 5432));
		});
		afterAll(() => proxy?.close());

		it("should keep answering and limiting from memory, warn once, and count in the database again once it is back", async () => {
			const a = await apiInstance(5, onPort(db.url, proxy.port), 20);
			const b = await apiInstance(5, db.url);
			const key = `sub:outage-${uniqueSuffix()}`;
			expect(allowedOf(await consumeTimes(a.limiter, key, 2))).toEqual([true, true]);
			expect(a.limiter.degraded).toBe(false);

			proxy.down();
			const duringOutage = await consumeTimes(a.limiter, key, 30);

			expect(a.limiter.degraded).toBe(true);
			// A's own memory starts the caller afresh: one budget per instance while the store is down.
			expect(allowedOf(duringOutage.slice(0, 6))).toEqual([true, true, true, true, true, false]);
			expect(duringOutage.slice(5).every(d => !d.allowed && d.retryAfterSeconds > 0)).toBe(true);
			expect(a.logs).toEqual([{ level: "warn", message: expect.stringContaining("does not answer") }]);
			// B still counts in the database, where A's requests of the outage are missing.
			expect(await b.limiter.consume(key)).toMatchObject({ allowed: true, remaining: 2 });

			proxy.up();
			await waitFor("A to count in the database again", async () => {
				await a.limiter.consume("ip:192.0.2.1");
				return !a.limiter.degraded;
			});
			expect(await a.limiter.consume(key)).toMatchObject({ allowed: true, remaining: 1 });
			expect(await pointsOf(key)).toBe(4);
			expect(a.logs.map(l => l.level)).toEqual(["warn", "info"]);
		});
	});

	describe("When the table is dropped while the api runs", () => {
		it("should answer from memory meanwhile, then create the table again", async () => {
			const { limiter, logs } = await apiInstance(5, db.url, 20);
			const key = `sub:dropped-${uniqueSuffix()}`;
			await limiter.consume(key);

			await queryDatabase(db.url, `DROP TABLE ${DEFAULT_RATE_LIMIT_TABLE}`);
			expect((await limiter.consume(key)).allowed).toBe(true);
			expect(logs).toEqual([{ level: "warn", message: expect.stringContaining(`relation "${DEFAULT_RATE_LIMIT_TABLE}" does not exist (42P01)`) }]);

			await waitFor("the table to be back", async () => {
				await limiter.consume(key);
				return !limiter.degraded;
			});
			expect(await pointsOf(key)).toBeGreaterThanOrEqual(1);
		});
	});
});
