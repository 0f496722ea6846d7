/**
 * Dead letters on one node (no transporter, embedded PostgreSQL): an event whose handler failed for
 * good stays in its publisher's outbox, marked failed, and the admin endpoints list, show, replay
 * and purge it as they do RabbitMQ's dead letters. Driven over HTTP like an operator would.
 */
import { randomUUID } from "node:crypto";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { startSystem, type RunningSystem } from "../support/system";
import { waitFor } from "../support/services";

interface OutboxService {
	db(): Sequelize;
	transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T>;
	enqueueEvent(t: Transaction, name: string, group: string, payload: Record<string, unknown>, meta?: Record<string, unknown>): Promise<void>;
}

interface DeadLetter {
	id: string;
	attempts: number;
	replays: number;
	[field: string]: unknown;
}

describe("Dead letters on one node (no transporter): the failed events of the outboxes", () => {
	let system: RunningSystem;
	let flakyStoreAway = true;
	let flakyRuns = 0;
	const api = () => system.http();
	const outbox = (publisher: "orders" | "processor") => system.service(publisher) as unknown as OutboxService;

	/** Writes an event into a publisher's outbox, as its own business code would. */
	const publish = (publisher: "orders" | "processor", event: string, group: string, payload: Record<string, unknown>) =>
		outbox(publisher).transaction(t => outbox(publisher).enqueueEvent(t, event, group, payload, { correlationId: payload.correlationId }));
	const listOf = async (query: string) => (await api().get(`/api/admin/dead-letters?${query}`)).body as { rows: DeadLetter[]; count: number };
	const deadLetterOf = (orderId: string, attempts = 1) =>
		waitFor(`the dead letter of order ${orderId} with ${attempts} attempt(s)`, async () =>
			(await listOf(`orderId=${orderId}`)).rows?.find(row => row.attempts === attempts)
		);
	const outboxRow = async (publisher: "orders" | "processor", orderId: string) =>
		(
			await outbox(publisher).db().query<{ sent: boolean; failed: boolean; attempts: number }>(
				`SELECT sent_at IS NOT NULL AS sent, failed_at IS NOT NULL AS failed, attempts FROM outbox_events
				 WHERE payload->>'orderId' = :orderId`,
				{ type: QueryTypes.SELECT, replacements: { orderId } }
			)
		)[0];

	// Payloads the consumers' schemas refuse: a permanent failure, on every run.
	const refusedOrderCreated = (orderId: string) => ({ orderId, correlationId: `corr-${orderId}`, items: [] });
	const refusedOrderProcessed = (orderId: string) => ({ orderId, correlationId: `corr-${orderId}`, status: "shipped" });

	beforeAll(async () => {
		system = await startSystem({ env: { RETRY_MAX_ATTEMPTS: "2" } });
		// A consumer whose store can be away: its failure is passing, so it is retried, then given up on.
		system.broker.createService({
			name: "flaky",
			events: {
				"test.flaky": {
					group: "flaky",
					handler() {
						flakyRuns++;
						if (flakyStoreAway) throw new Error("The flaky store is away.");
					}
				}
			}
		});
		await system.broker.waitForServices("flaky");
	});
	afterAll(async () => {
		await system?.stop();
	});

	describe("When a consumer refuses an event", () => {
		it("should list and show it as a dead letter of its publisher's outbox, with the fields of a RabbitMQ dead letter", async () => {
			const orderId = randomUUID();
			await publish("orders", "order.created", "processor", refusedOrderCreated(orderId));

			const dead = await deadLetterOf(orderId);
			expect(dead).toEqual({
				id: expect.stringMatching(/^orders-outbox-\d+$/),
				event: "order.created",
				group: "processor",
				queue: "outbox:orders",
				attempts: 1,
				replays: 0,
				error: expect.stringMatching(/valid/i),
				errorName: "ValidationError",
				deadLetteredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
				orderId,
				correlationId: `corr-${orderId}`,
				payload: refusedOrderCreated(orderId)
			});
			const shown = await api().get(`/api/admin/dead-letters/${dead.id}`);
			expect(shown.status).toBe(200);
			expect(shown.body).toEqual(dead);
			expect(await outboxRow("orders", orderId)).toEqual({ sent: false, failed: true, attempts: 1 });
		});

		it("should keep the dead letters of both outboxes apart by id, and filter them like RabbitMQ's", async () => {
			const [created, processed] = [randomUUID(), randomUUID()];
			await publish("orders", "order.created", "processor", refusedOrderCreated(created));
			await publish("processor", "order.processed", "orders", refusedOrderProcessed(processed));
			const fromOrders = await deadLetterOf(created);
			const fromProcessor = await deadLetterOf(processed);

			expect(fromProcessor).toMatchObject({ id: expect.stringMatching(/^processor-outbox-\d+$/), queue: "outbox:processor", group: "orders" });
			expect(fromProcessor.id).not.toBe(fromOrders.id);
			expect((await api().get(`/api/admin/dead-letters/${fromProcessor.id}`)).body).toEqual(fromProcessor);
			expect((await api().get(`/api/admin/dead-letters/${fromOrders.id}`)).body).toEqual(fromOrders);

			const ids = (page: { rows: DeadLetter[] }) => page.rows.map(row => row.id);
			expect(ids(await listOf("event=order.processed"))).toContain(fromProcessor.id);
			expect(ids(await listOf("event=order.processed"))).not.toContain(fromOrders.id);
			expect(ids(await listOf("event=order.created"))).toContain(fromOrders.id);
			expect(ids(await listOf("event=order.created"))).not.toContain(fromProcessor.id);
			expect(ids(await listOf(`errorContains=${encodeURIComponent(String(fromProcessor.error).slice(0, 20).toUpperCase())}`))).toContain(fromProcessor.id);
			expect(await listOf(`orderId=${processed}&errorContains=nothing-like-this`)).toEqual({ rows: [], count: 0 });
			expect((await listOf("limit=1")).count).toBe(1);
			expect((await api().get("/api/admin/dead-letters?event=order.shipped")).status).toBe(400);
		});

		it("should answer 404 for an id no outbox holds", async () => {
			for (const id of ["orders-outbox-999999999", "billing-outbox-1", "not-an-outbox-id"]) {
				await api().get(`/api/admin/dead-letters/${id}`).expect(404);
				await api().post(`/api/admin/dead-letters/${id}/replay`).expect(404);
				await api().delete(`/api/admin/dead-letters/${id}`).expect(404);
			}
		});
	});

	describe("When a dead letter is replayed and fails again", () => {
		it("should run its handler again and keep it listed, failed again, with its attempts grown", async () => {
			const orderId = randomUUID();
			await publish("orders", "order.created", "processor", refusedOrderCreated(orderId));
			const dead = await deadLetterOf(orderId);

			const replayed = await api().post(`/api/admin/dead-letters/${dead.id}/replay`);
			expect(replayed.status).toBe(200);
			expect(replayed.body).toMatchObject({ id: dead.id, attempts: 1, replays: 0 });

			expect(await deadLetterOf(orderId, 2)).toMatchObject({ id: dead.id, replays: 1, errorName: "ValidationError" });
			expect(await outboxRow("orders", orderId)).toEqual({ sent: false, failed: true, attempts: 2 });
		});

		it("should replay every dead letter matching a filter, across the outboxes", async () => {
			const [created, processed] = [randomUUID(), randomUUID()];
			await publish("orders", "order.created", "processor", refusedOrderCreated(created));
			await publish("processor", "order.processed", "orders", refusedOrderProcessed(processed));
			const [fromOrders, fromProcessor] = [await deadLetterOf(created), await deadLetterOf(processed)];

			const one = await api().post("/api/admin/dead-letters/replay").send({ event: "order.processed", orderId: processed });
			expect(one.body).toEqual({ replayed: 1, ids: [fromProcessor.id] });
			expect(await deadLetterOf(processed, 2)).toMatchObject({ id: fromProcessor.id, replays: 1 });
			expect(await deadLetterOf(created, 1)).toMatchObject({ id: fromOrders.id, replays: 0 });
		});
	});

	describe("When a dead letter is replayed after its cause went away", () => {
		it("should run its handler again from the outbox and send the event, leaving no dead letter", async () => {
			const orderId = randomUUID();
			await publish("orders", "test.flaky", "flaky", { orderId, correlationId: `corr-${orderId}` });
			const dead = await deadLetterOf(orderId, 2);
			expect(dead).toMatchObject({ event: "test.flaky", group: "flaky", error: "The flaky store is away.", errorName: "Error" });
			expect(flakyRuns).toBe(2);

			flakyStoreAway = false;
			await api().post(`/api/admin/dead-letters/${dead.id}/replay`).expect(200);

			await waitFor(`the replayed event of order ${orderId} to be sent`, async () => (await outboxRow("orders", orderId))?.sent);
			expect(flakyRuns).toBe(3);
			expect(await outboxRow("orders", orderId)).toEqual({ sent: true, failed: false, attempts: 2 });
			await api().get(`/api/admin/dead-letters/${dead.id}`).expect(404);
		});
	});

	describe("When a dead letter is not worth replaying", () => {
		it("should purge it from its outbox, and answer 404 for it afterwards", async () => {
			const orderId = randomUUID();
			await publish("processor", "order.processed", "orders", refusedOrderProcessed(orderId));
			const dead = await deadLetterOf(orderId);

			const purged = await api().delete(`/api/admin/dead-letters/${dead.id}`);
			expect(purged.status).toBe(200);
			expect(purged.body).toEqual(dead);
			await api().get(`/api/admin/dead-letters/${dead.id}`).expect(404);
			await api().post(`/api/admin/dead-letters/${dead.id}/replay`).expect(404);
			expect(await outboxRow("processor", orderId)).toBeUndefined();
		});

		it("should purge every dead letter matching a filter", async () => {
			const orderId = randomUUID();
			await publish("orders", "order.created", "processor", refusedOrderCreated(orderId));
			await publish("processor", "order.processed", "orders", refusedOrderProcessed(orderId));
			await waitFor("both dead letters of the order", async () => (await listOf(`orderId=${orderId}`)).count === 2);

			const purged = await api().delete(`/api/admin/dead-letters?orderId=${orderId}`);
			expect(purged.status).toBe(200);
			expect(purged.body.purged).toBe(2);
			expect(purged.body.ids).toEqual(expect.arrayContaining([expect.stringMatching(/^orders-outbox-/), expect.stringMatching(/^processor-outbox-/)]));
			expect(await listOf(`orderId=${orderId}`)).toEqual({ rows: [], count: 0 });
		});
	});
});
