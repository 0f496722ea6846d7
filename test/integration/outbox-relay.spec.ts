/**
 * Several relays on one database (as several instances of a service would run) publish every
 * outbox row exactly once: rows are claimed with FOR UPDATE SKIP LOCKED and a lease. A create's own
 * row is leased to its instance's relay as it is written and published from memory, unclaimed.
 */
import { randomUUID } from "node:crypto";
import type { Context, ServiceBroker } from "moleculer";
import { Client } from "pg";
import { QueryTypes, type Sequelize } from "sequelize";
import { startOrdersNode } from "../support/orders-node";
import { createTestDatabase, queryDatabase, waitFor, type TestDatabase } from "../support/services";

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

	it("should publish a new order's event from the create itself, leased to this relay from its insert, with no claim", async () => {
		const orders = broker.getLocalService("orders") as unknown as { publishPendingOutbox(): Promise<number> };
		const outboxRow = (where: string, value: string) =>
			queryDatabase<{ sent: boolean; lease_from_insert: boolean; claimed_later: boolean }>(
				database.url,
				`SELECT sent_at IS NOT NULL AS sent,
				        claimed_until = created_at + interval '10 seconds' AS lease_from_insert,
				        claimed_until > created_at + interval '10 seconds' AS claimed_later
				   FROM outbox_events WHERE ${where} = $1`,
				[value]
			);

		// The relay runs only when woken: the create wakes it with the row it just committed.
		const order = await broker.call<{ id: string }, object>(
			"orders.create",
			{ items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 5 }], currency: "EUR" },
			{ meta: { user: { sub: "alice", role: "customer" } } }
		);
		const [event] = await queryDatabase<{ event_id: string }>(
			database.url,
			"SELECT payload->>'eventId' AS event_id FROM outbox_events WHERE payload->>'orderId' = $1",
			[order.id]
		);
		await waitFor("the order's event to arrive", () => received.has(event.event_id));
		await waitFor("its row to be marked sent", async () => (await outboxRow("payload->>'orderId'", order.id))[0].sent);
		// Its lease is the one its insert wrote (the same now()): no claim query ever took it.
		expect(await outboxRow("payload->>'orderId'", order.id)).toEqual([{ sent: true, lease_from_insert: true, claimed_later: false }]);
		expect(received.get(event.event_id)).toBe(1);

		// A row written the other way (no lease, the relay not told) is claimed: its lease starts later.
		const eventId = randomUUID();
		await queryDatabase(database.url, "INSERT INTO outbox_events (event_name, consumer_group, payload) VALUES ('order.created', 'processor', $1)", [
			JSON.stringify({ eventId })
		]);
		await orders.publishPendingOutbox();
		await waitFor("the claimed row's event to arrive", () => received.has(eventId));
		expect(await outboxRow("payload->>'eventId'", eventId)).toEqual([{ sent: true, lease_from_insert: false, claimed_later: true }]);
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
