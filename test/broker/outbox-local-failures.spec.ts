/**
 * With no transporter (one process, `npm start` as it comes) there is no RabbitMQ to retry or
 * dead-letter: the outbox does it, by the same delivery policy as the transporter. A failed handler
 * leaves its event unsent and it runs again after its backoff delay; a refusal, or one failure too
 * many, marks the event failed in the outbox instead of losing it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Errors, ServiceBroker, type Context } from "moleculer";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { createBrokerOptions, readEnvironment, serviceSettings } from "../../moleculer.config";
import { serviceSchemas } from "../../services";
import { waitFor } from "../support/services";

interface FlakyEvent {
	n: number;
	mode: "fine" | "twice" | "refuse" | "always";
}

describe("Test 'outbox.mixin' without a transporter", () => {
	const dataDir = mkdtempSync(join(tmpdir(), "outbox-local-"));
	let broker: ServiceBroker;
	/** When each event's handler ran, by the event's `n`. */
	const runTimes = new Map<number, number[]>();
	const runsOf = (n: number) => runTimes.get(n)?.length ?? 0;
	let orders: {
		adapter: { db: Sequelize };
		transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T>;
		enqueueEvent(t: Transaction, name: string, group: string, payload: Record<string, unknown>): Promise<void>;
	};

	const rowOf = async (n: number) =>
		(
			await orders.adapter.db.query<{ sent: boolean; failed: boolean; attempts: number }>(
				`SELECT sent_at IS NOT NULL AS sent, failed_at IS NOT NULL AS failed, attempts FROM outbox_events
				 WHERE event_name = 'test.flaky' AND (payload->>'n')::int = :n`,
				{ type: QueryTypes.SELECT, replacements: { n } }
			)
		)[0];
	const enqueue = (payload: FlakyEvent) =>
		orders.transaction(t => orders.enqueueEvent(t, "test.flaky", "flaky", payload as unknown as Record<string, unknown>));

	beforeAll(async () => {
		const config = readEnvironment({ DATA_DIR: dataDir, METRICS_PORT: "off", LOG_LEVEL: "fatal", RETRY_MAX_ATTEMPTS: "3" });
		broker = new ServiceBroker(createBrokerOptions(config));
		broker.createService({
			name: "orders",
			mixins: [serviceSchemas.orders],
			settings: { ...serviceSettings(config).orders, outboxPollIntervalMs: 100, outboxDelivery: { ...config.delivery, baseDelayMs: 600 } }
		});
		broker.createService({
			name: "flaky",
			events: {
				"test.flaky": {
					group: "flaky",
					handler(ctx: Context<FlakyEvent>) {
						const times = runTimes.get(ctx.params.n) ?? [];
						times.push(Date.now());
						runTimes.set(ctx.params.n, times);
						const run = times.length;
						if (ctx.params.mode === "refuse") throw new Errors.MoleculerClientError("not for me", 400, "REFUSED");
						if (ctx.params.mode === "always" || (ctx.params.mode === "twice" && run <= 2)) throw new Error("database is away");
					}
				}
			}
		});
		await broker.start();
		orders = broker.getLocalService("orders") as unknown as typeof orders;
	});

	afterAll(async () => {
		await broker?.stop();
		rmSync(dataDir, { recursive: true, force: true });
	});

	it("should run a failed handler again until it succeeds", async () => {
		await enqueue({ n: 1, mode: "twice" });

		await waitFor("event 1 to be sent", async () => (await rowOf(1))?.sent);
		expect(runsOf(1)).toBe(3);
		expect(await rowOf(1)).toEqual({ sent: true, failed: false, attempts: 2 });
	});

	it("should wait its backoff delay before running a failed handler again", async () => {
		await enqueue({ n: 4, mode: "twice" });

		await waitFor("event 4 to be sent", async () => (await rowOf(4))?.sent);
		const [first, second, third] = runTimes.get(4) ?? [];
		// The relay polls every 100 ms; the policy's delays are 600 ms then 1200 ms, at least half of each.
		expect(second - first).toBeGreaterThanOrEqual(300);
		expect(third - second).toBeGreaterThanOrEqual(600);
	});

	it("should mark a refused event failed at once", async () => {
		await enqueue({ n: 2, mode: "refuse" });

		await waitFor("event 2 to be marked failed", async () => (await rowOf(2))?.failed);
		expect(runsOf(2)).toBe(1);
		expect(await rowOf(2)).toEqual({ sent: false, failed: true, attempts: 1 });
	});

	it("should mark an event failed after the last attempt, and not run it again", async () => {
		await enqueue({ n: 3, mode: "always" });

		await waitFor("event 3 to be marked failed", async () => (await rowOf(3))?.failed);
		// A later event sent proves the relay passed again: a failed event stays out of its batches.
		await enqueue({ n: 5, mode: "fine" });
		await waitFor("event 5 to be sent", async () => (await rowOf(5))?.sent);
		expect(runsOf(3)).toBe(3);
		expect(await rowOf(3)).toEqual({ sent: false, failed: true, attempts: 3 });
	});
});
