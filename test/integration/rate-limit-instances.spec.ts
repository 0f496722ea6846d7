/**
 * Two api instances, over HTTP, sharing one rate limit through the real PostgreSQL
 * (RATE_LIMIT_DATABASE_URL): a caller's budget is the same whichever instance it reaches, and
 * behind a trusted proxy each client is counted by its X-Forwarded-For address.
 */
import { startSystem, type RunningSystem } from "../support/system";
import { createTestDatabase, type TestDatabase } from "../support/services";

describe("Rate limit shared by two api instances", () => {
	let db: TestDatabase;
	let first: RunningSystem;
	let second: RunningSystem;

	beforeAll(async () => {
		db = await createTestDatabase("limits");
		const env = { RATE_LIMIT_PER_MINUTE: "5", RATE_LIMIT_DATABASE_URL: db.url };
		first = await startSystem({ env });
		// The second instance sits behind a reverse proxy on this machine.
		second = await startSystem({ env: { ...env, TRUSTED_PROXIES: "127.0.0.1,::1" } });
	});
	afterAll(async () => {
		await first?.stop();
		await second?.stop();
		await db?.drop();
	});

	it("should let a caller make its budget of requests in all, whichever instance answers them", async () => {
		const onFirst = await first.httpAs("shared-caller");
		const onSecond = await second.httpAs("shared-caller");
		const statuses: number[] = [];
		for (let i = 0; i < 3; i++) statuses.push((await onFirst.get("/api/orders")).status);
		for (let i = 0; i < 2; i++) statuses.push((await onSecond.get("/api/orders")).status);
		const overFirst = await onFirst.get("/api/orders");
		const overSecond = await onSecond.get("/api/orders");

		expect(statuses).toEqual([200, 200, 200, 200, 200]);
		expect([overFirst.status, overSecond.status]).toEqual([429, 429]);
		expect(Number(overSecond.headers["retry-after"])).toBeGreaterThanOrEqual(1);
		// Another caller of either instance still has its whole budget.
		expect((await (await second.httpAs("other-caller")).get("/api/orders")).headers["ratelimit-remaining"]).toBe("4");
	});

	it("should count clients behind a trusted proxy by their forwarded address, and not trust it from others", async () => {
		const from = (address: string) => second.anonymous().get("/api/orders").set("X-Forwarded-For", address);
		const client = [];
		for (let i = 0; i < 6; i++) client.push((await from("198.51.100.7")).status);
		expect(client).toEqual([401, 401, 401, 401, 401, 429]);
		// Another client behind the same proxy has a budget of its own.
		expect((await from("198.51.100.8")).status).toBe(401);

		// The first instance trusts no proxy: the header names nobody, and its peer is counted.
		const direct = await first.anonymous().get("/api/orders").set("X-Forwarded-For", "198.51.100.9");
		expect(direct.status).toBe(401);
		expect(direct.headers["ratelimit-remaining"]).toBe("4");
	});
});
