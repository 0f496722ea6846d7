/**
 * Several relays on one database (as several instances of a service would run) publish every
 * outbox row exactly once: rows are claimed with FOR UPDATE SKIP LOCKED and a lease.
 */
import { randomUUID } from "node:crypto";
import { ServiceBroker, type Context } from "moleculer";
import { QueryTypes, type Sequelize } from "sequelize";
import { createBrokerOptions, readEnvironment, serviceSettings } from "../../moleculer.config";
import { serviceSchemas } from "../../services";
import { createTestDatabase, uniqueSuffix, waitFor, type TestDatabase } from "../support/services";

const ROWS = 300;

describe("Test 'outbox.mixin' relay on PostgreSQL", () => {
	let database: TestDatabase;
	let broker: ServiceBroker;
	const received = new Map<string, number>();

	beforeAll(async () => {
		database = await createTestDatabase("relay");
		const config = readEnvironment({
			NAMESPACE: `t${uniqueSuffix()}`,
			METRICS_PORT: "off",
			LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "fatal",
			ORDERS_DATABASE_URL: database.url
		});
		broker = new ServiceBroker(createBrokerOptions(config));
		// A relay that only runs when asked: no timer passes, no wake-up on commit.
		broker.createService({
			name: "orders",
			mixins: [serviceSchemas.orders],
			settings: { ...serviceSettings(config).orders, outboxPollIntervalMs: 3_600_000, outboxBatchSize: 25 }
		});
		broker.createService({
			name: "probe",
			events: {
				"order.created": {
					group: "processor",
					handler(ctx: Context<{ eventId: string }>) {
						received.set(ctx.params.eventId, (received.get(ctx.params.eventId) ?? 0) + 1);
					}
				}
			}
		});
		await broker.start();
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
});
