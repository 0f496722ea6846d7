/**
 * The outbox keeps its table small: sent rows are pruned after the retention period, unsent rows
 * never are.
 */
import { QueryTypes, type Sequelize } from "sequelize";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";

describe("Test the pruning of the outbox and of the orders inbox", () => {
	let system: RunningSystem;
	const db = (): Sequelize => (system.service("orders") as unknown as { adapter: { db: Sequelize } }).adapter.db;
	const count = async (where: string) =>
		(await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox_events WHERE ${where}`, { type: QueryTypes.SELECT }))[0].n;

	beforeAll(async () => {
		system = await startSystem({ env: { OUTBOX_RETENTION_MS: "0", INBOX_RETENTION_MS: "0" } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should delete the rows already sent and keep the ones still waiting", async () => {
		const res = await system.http()
			.post("/api/orders")
			.send({ customerId: "prune-1", items: [{ sku: "SKU-0030", quantity: 1, unitPrice: 1 }], currency: "EUR" });
		await waitFor("the order to complete", async () => (await system.http().get(`/api/orders/${res.body.id}`)).body.status === "completed");
		// No local consumer has this group: the relay must leave the row unsent.
		await db().query(
			"INSERT INTO outbox_events (event_name, consumer_group, payload) VALUES ('test.undeliverable', 'nobody', '{}')"
		);
		expect(await count("sent_at IS NOT NULL")).toBeGreaterThanOrEqual(1);

		const orders = system.service("orders") as unknown as { pruneSentOutbox(): Promise<number> };
		const pruned = await orders.pruneSentOutbox();

		expect(pruned).toBeGreaterThanOrEqual(1);
		expect(await count("sent_at IS NOT NULL")).toBe(0);
		expect(await count("sent_at IS NULL AND event_name = 'test.undeliverable'")).toBe(1);
	});

	it("should forget consumed event ids after the inbox retention", async () => {
		const inbox = async () =>
			(await db().query<{ n: number }>("SELECT count(*)::int AS n FROM processed_events", { type: QueryTypes.SELECT }))[0].n;
		expect(await inbox()).toBeGreaterThanOrEqual(1);

		const orders = system.service("orders") as unknown as { saga: { pruneProcessedEvents(): Promise<number> } };
		expect(await orders.saga.pruneProcessedEvents()).toBeGreaterThanOrEqual(1);
		expect(await inbox()).toBe(0);
	});
});
