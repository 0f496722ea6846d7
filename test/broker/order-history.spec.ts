/**
 * `GET /api/orders/:id/history` one page at a time: both services' entries merged oldest first,
 * paged over the merged list, with the paging fields of `GET /api/orders`, and bounds a client
 * cannot pass. One node runs every service on embedded PostgreSQL.
 */
import { QueryTypes, type Sequelize } from "sequelize";
import type { HistoryEntry, OrderHistory } from "../../lib/contracts/history";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";

describe("Order history, paged over both services' merged entries", () => {
	let system: RunningSystem;
	let orderId: string;
	const api = () => system.http();
	const dbOf = (service: "orders" | "processor"): Sequelize => (system.service(service) as unknown as { adapter: { db: Sequelize } }).adapter.db;
	const page = async (query: string) => {
		const res = await api().get(`/api/orders/${orderId}/history${query}`);
		expect(res.status).toBe(200);
		return res.body as OrderHistory;
	};

	/** Adds `count` steps to a service's history of the order, at the given times. */
	const addSteps = async (service: "orders" | "processor", times: Date[]) => {
		const table = service === "orders" ? "order_history" : "processing_history";
		for (const [i, at] of times.entries()) {
			await dbOf(service).query(`INSERT INTO ${table} (order_id, at, step, status, node_id) VALUES (:orderId, :at, :step, 's', 'test')`, {
				type: QueryTypes.INSERT,
				replacements: { orderId, at: at.toISOString(), step: `${service} extra ${i}` }
			});
		}
	};

	beforeAll(async () => {
		system = await startSystem();
		const res = await api()
			.post("/api/orders")
			.send({ customerId: "history-pages", items: [{ sku: "SKU-0003", quantity: 1, unitPrice: 1 }], currency: "EUR" });
		orderId = res.body.id;
		await waitFor(`order ${orderId} to complete`, async () => (await api().get(`/api/orders/${orderId}`)).body.status === "completed");
		// 30 more steps in each service, alternating in time, a minute after the order's own.
		const base = Date.now() + 60_000;
		await addSteps("orders", Array.from({ length: 30 }, (_, i) => new Date(base + 20 * i)));
		await addSteps("processor", Array.from({ length: 30 }, (_, i) => new Date(base + 20 * i + 10)));
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should answer the first 100 entries by default, with the count of the whole history", async () => {
		const first = await page("");
		expect(first).toMatchObject({ orderId, complete: true, total: 64, page: 1, pageSize: 100, totalPages: 1 });
		expect(first.entries).toHaveLength(64);
		const times = first.entries.map(e => Date.parse(e.at));
		expect(times).toEqual([...times].sort((a, b) => a - b));
		expect(first.entries.slice(4, 8).map(e => e.step)).toEqual(["orders extra 0", "processor extra 0", "orders extra 1", "processor extra 1"]);
	});

	it("should cut the merged history into pages that, read in turn, give it whole and in order", async () => {
		const whole = (await page("?pageSize=500")).entries;
		const pages: OrderHistory[] = [];
		for (let n = 1; n <= 10; n++) pages.push(await page(`?page=${n}&pageSize=7`));

		expect(pages.map(p => p.entries.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 7, 7, 1]);
		expect(pages.every(p => p.total === 64 && p.totalPages === 10 && p.pageSize === 7 && p.complete)).toBe(true);
		expect(pages.flatMap(p => p.entries)).toEqual(whole);
		// Each page mixes both services where their steps alternate.
		expect(new Set(pages[3].entries.map((e: HistoryEntry) => e.service))).toEqual(new Set(["orders", "processor"]));
	});

	it("should answer an empty page past the end", async () => {
		expect(await page("?page=50&pageSize=7")).toMatchObject({ entries: [], total: 64, page: 50, totalPages: 10 });
	});

	it("should answer 400 naming pageSize past 500, and page past the depth a page may reach", async () => {
		for (const pageSize of ["501", "100000"]) {
			const res = await api().get(`/api/orders/${orderId}/history?pageSize=${pageSize}`);
			expect(res.status).toBe(400);
			expect(res.body.errors).toEqual([{ field: "pageSize", message: "must be a whole number from 1 to 500, in digits" }]);
		}
		const deep = await api().get(`/api/orders/${orderId}/history?page=201&pageSize=500`);
		expect(deep.status).toBe(400);
		expect(deep.body.errors).toEqual([{ field: "page", message: expect.stringContaining("must be <= 200 for a pageSize of 500") }]);
		for (const query of ["page=0", "pageSize=0", "page=x", "page=1&page=2"]) {
			expect((await api().get(`/api/orders/${orderId}/history?${query}`)).status).toBe(400);
		}
		// A parameter it does not list is left out, not refused.
		expect((await api().get(`/api/orders/${orderId}/history?extra=1`)).status).toBe(200);
	});
});
