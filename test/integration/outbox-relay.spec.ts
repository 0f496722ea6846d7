/**
 * Several relays on one database (as several instances of a service would run) publish every
 * outbox row exactly once: rows are claimed with FOR UPDATE SKIP LOCKED and a lease.
 */
import { randomUUID } from "node:crypto";
import type { Context, ServiceBroker } from "moleculer";
import { Client } from "pg";
import { QueryTypes, type Sequelize } from "sequelize";
import { startOrdersNode } from "../support/orders-node";
import { createTestDatabase, waitFor, type TestDatabase } from "../support/services";

const ROWS = 300;

describe("Test 'outbox.mixin' relay on PostgreSQL", () => {
	let database: TestDatabase;
	let broker: ServiceBroker;
	const received = new Map<string, number>();

	beforeAll(async () => {
		database = await createTestDatabase("relay");
		// A relay that only runs when asked: no timer passes, no wake-up on commit.
		({ broker } = await startOrdersNode(database.url, {
			settings: { outboxPollIntervalMs: 3_600_000, outboxBatchSize: 25 },
			services: [
				{
					name: "probe",
					events: {
						"order.created": {
							group: "processor",
							handler(ctx: Context<{ eventId: string }>) {
								received.set(ctx.params.eventId, (received.get(ctx.params.eventId) ?? 0) + 1);
							}
						}
					}
				}
			]
		}));
	});

	afterAll(async () => {
		await broker?.stop();
		await database?.drop();
	});

	it("should publish each row once when four relays run at the same time", async () => {
		const orders = broker.getLocalService("orders") as unknown as {
			adapter: { db: Sequelize };
			publishPendingOutbox(): Promise<number>;
		};
		const db = orders.adapter.db;
		const eventIds = Array.from({ length: ROWS }, () => randomUUID());
		await db.query(
			`INSERT INTO outbox_events (event_name, consumer_group, payload)
			 SELECT 'order.created', 'processor', json_build_object('eventId', id) FROM unnest(ARRAY[:ids]::text[]) AS id`,
			{ replacements: { ids: eventIds } }
		);

		const counts = await Promise.all([1, 2, 3, 4].map(() => orders.publishPendingOutbox()));

		await waitFor("every event to arrive", () => received.size === ROWS);
		expect(counts.reduce((a, b) => a + b, 0)).toBe(ROWS);
		expect([...received.values()].every(n => n === 1)).toBe(true);
		expect(eventIds.every(id => received.has(id))).toBe(true);
		const [unsent] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox_events WHERE sent_at IS NULL", {
			type: QueryTypes.SELECT
		});
		expect(unsent.n).toBe(0);
	});

	it("should claim by an index scan of the unsent rows however many are unsent, never by sorting them all", async () => {
		// A backlog of 5,000 unsent rows behind 5,000 sent ones, on a table autovacuum has not analysed
		// since: the shape under which the claim used to read and sort every unsent row.
		const client = new Client({ connectionString: database.url });
		await client.connect();
		try {
			await client.query(
				`INSERT INTO outbox_events (event_name, consumer_group, payload, sent_at)
				 SELECT 'bench.event', 'nobody', '{}'::jsonb, CASE WHEN n <= 5000 THEN now() END FROM generate_series(1, 10000) AS n`
			);
			const plans: string[] = [];
			client.on("notice", notice => plans.push(String(notice.message)));
			await client.query("LOAD 'auto_explain'");
			await client.query("SET auto_explain.log_min_duration = 0");
			await client.query("SET auto_explain.log_nested_statements = on");
			await client.query("SET client_min_messages = log");

			const claimed = await client.query("SELECT id FROM outbox_claim(50, 600)");

			expect(claimed.rowCount).toBe(50);
			const claimPlan = plans.find(p => p.includes("UPDATE outbox_events")) ?? "";
			expect(claimPlan).toMatch(/Index Scan using outbox_events_unsent_idx/);
			expect(claimPlan).not.toMatch(/Bitmap|Sort|Seq Scan/);
		} finally {
			await client.query("DELETE FROM outbox_events WHERE event_name = 'bench.event'");
			await client.end();
		}
	});
});
