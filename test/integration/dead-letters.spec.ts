/**
 * Technical failures on the real RabbitMQ and PostgreSQL: the processor's database goes away (a TCP
 * proxy cuts it), events are retried with backoff, dead-lettered when it stays away, and the admin
 * API lists, inspects, replays and purges the dead letters.
 */
import { randomUUID } from "node:crypto";
import { openApiDocument } from "../../services/api/openapi";
import { responseValidatorFor } from "../support/openapi";
import amqp, { type ChannelModel } from "amqplib";
import { eventQueueNames } from "../../lib/transport/reliable-amqp";
import { startSystem, type RunningSystem } from "../support/system";
import {
	createTestDatabase,
	createTestVhost,
	queryDatabase,
	uniqueSuffix,
	waitFor,
	type TestDatabase,
	type TestVhost
} from "../support/services";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

const MAX_ATTEMPTS = 3;

describe("Dead letters of the order pipeline", () => {
	let vhost: TestVhost;
	let ordersDb: TestDatabase;
	let processorDb: TestDatabase;
	let proxy: TcpProxy;
	let system: RunningSystem;
	let amqpConnection: ChannelModel;
	const namespace = `dl${uniqueSuffix()}`;
	const api = () => system.http();

	const createOrder = async (sku = "SKU-0020") => {
		const res = await api()
			.post("/api/orders")
			.send({ customerId: "dl-customer", items: [{ sku, quantity: 1, unitPrice: 4.5 }], currency: "EUR" });
		expect(res.status).toBe(201);
		return res.body.id as string;
	};
	const statusOf = async (id: string) => (await api().get(`/api/orders/${id}`)).body.status as string;
	/** Resolves once the processor has handled the event with this id (which a duplicate must leave as it was). */
	const handledOnce = (eventId: string) => {
		type Handler = (event: { eventId: string }) => Promise<void>;
		const processor = (system.service("processor") as unknown as { saga: { processOrder: Handler } }).saga;
		const original = processor.processOrder;
		return new Promise<void>(resolve => {
			processor.processOrder = async function (this: unknown, event) {
				try {
					await original.call(this, event);
				} finally {
					if (event.eventId === eventId) {
						processor.processOrder = original;
						resolve();
					}
				}
			};
		});
	};
	const deadLetterOf = (orderId: string) =>
		waitFor(`a dead letter for order ${orderId}`, async () => {
			const res = await api().get(`/api/admin/dead-letters?orderId=${orderId}`);
			return res.body.rows?.[0];
		}, 30_000, 200);

	beforeAll(async () => {
		vhost = createTestVhost();
		[ordersDb, processorDb] = await Promise.all([createTestDatabase("dl_orders"), createTestDatabase("dl_processor")]);
		const target = new URL(processorDb.url);
		proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
		const viaProxy = new URL(processorDb.url);
		viaProxy.hostname = "127.0.0.1";
		viaProxy.port = String(proxy.port);
		system = await startSystem({
			env: {
				TRANSPORTER: vhost.url,
				NAMESPACE: namespace,
				ORDERS_DATABASE_URL: ordersDb.url,
				PROCESSOR_DATABASE_URL: viaProxy.toString(),
				RETRY_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
				RETRY_BASE_DELAY_MS: "300"
			}
		});
		amqpConnection = await amqp.connect(vhost.url);
	});

	afterAll(async () => {
		await system?.stop();
		await amqpConnection?.close();
		await proxy?.close();
		await vhost?.remove();
		await Promise.all([ordersDb?.drop(), processorDb?.drop()]);
	});

	describe("When the processor's database is away for a moment", () => {
		it("should retry the event with backoff and complete the order, dead-lettering nothing", async () => {
			proxy.down();
			const refusedBefore = proxy.refused();
			const id = await createOrder();
			// Two refused connections: the handler failed, and its retry failed again.
			await waitFor("the processor to try its database twice", async () => proxy.refused() >= refusedBefore + 2);
			expect(await statusOf(id)).toBe("pending");
			proxy.up();

			await waitFor(`order ${id} to complete`, async () => (await statusOf(id)) === "completed", 30_000, 200);
			const dead = await api().get(`/api/admin/dead-letters?orderId=${id}`);
			expect(dead.body).toEqual({ rows: [], count: 0 });
		});
	});

	describe("When the processor's database stays away", () => {
		it("should dead-letter the event with its reason, and a replay after recovery should complete the order", async () => {
			proxy.down();
			const id = await createOrder("SKU-0021");

			const dead = await deadLetterOf(id);
			expect(dead).toMatchObject({ event: "order.created", group: "processor", attempts: MAX_ATTEMPTS, orderId: id });
			expect(dead.error).toMatch(/connect|ECONNRE|terminat|Connection/i);
			expect(dead.payload).toMatchObject({ orderId: id, items: [{ sku: "SKU-0021", quantity: 1, unitPrice: 4.5 }] });
			const shown = await api().get(`/api/admin/dead-letters/${dead.id}`);
			expect(shown.body).toEqual(dead);
			expect(await statusOf(id)).toBe("pending");

			proxy.up();
			const replayed = await api().post(`/api/admin/dead-letters/${dead.id}/replay`);
			expect(replayed.status).toBe(200);
			await waitFor(`order ${id} to complete after the replay`, async () => (await statusOf(id)) === "completed", 30_000, 200);

			const records = await queryDatabase(processorDb.url, "SELECT status FROM processing_records WHERE order_id = $1", [id]);
			expect(records).toEqual([{ status: "COMPLETED" }]);
			expect((await api().get(`/api/admin/dead-letters?orderId=${id}`)).body.count).toBe(0);
			await api().get(`/api/admin/dead-letters/${dead.id}`).expect(404);
		});

		it("should replay every dead letter matching a filter, and a replay of a processed event should change nothing", async () => {
			proxy.down();
			const ids = [await createOrder("SKU-0022"), await createOrder("SKU-0023")];
			await Promise.all(ids.map(deadLetterOf));
			proxy.up();

			const res = await api().post("/api/admin/dead-letters/replay").send({ event: "order.created", errorContains: "conn" });
			expect(res.status).toBe(200);
			expect(res.body.replayed).toBeGreaterThanOrEqual(2);
			await waitFor("both orders to complete", async () => (await Promise.all(ids.map(statusOf))).every(s => s === "completed"), 30_000, 200);

			// The same event once more, straight into the queue: deduplicated, stock reserved once.
			const [outbox] = await queryDatabase<{ payload: Record<string, unknown> }>(
				ordersDb.url,
				"SELECT payload FROM outbox_events WHERE payload->>'orderId' = $1",
				[ids[0]]
			);
			const handled = handledOnce(outbox.payload.eventId as string);
			await system.broker.emit("order.created", outbox.payload, { groups: ["processor"], throwError: true });
			await handled;
			const stock = await api().get("/api/admin/stock/SKU-0022");
			expect(stock.body).toEqual({ sku: "SKU-0022", available: 999_999, reserved: 1 });
		});
	});

	describe("When a replayed dead letter fails again", () => {
		const listOf = async (orderId: string) => (await api().get(`/api/admin/dead-letters?orderId=${orderId}`)).body;
		const deadLetterWithAttempts = (orderId: string, attempts: number) =>
			waitFor(`the dead letter of order ${orderId} with ${attempts} attempts`, async () => {
				const { rows } = await listOf(orderId);
				return rows?.find((row: { attempts: number }) => row.attempts === attempts);
			});

		it("should replay it once, answer at once, and keep it listed with its attempts growing until it is purged", async () => {
			const orderId = randomUUID();
			// A payload the processor's schema refuses: a permanent failure, on every run.
			await system.broker.emit("order.created", { orderId, correlationId: `corr-${orderId}`, items: [] }, {
				groups: ["processor"],
				throwError: true
			});
			const dead = await deadLetterWithAttempts(orderId, 1);
			expect(dead).toMatchObject({ event: "order.created", group: "processor", replays: 0, errorName: "ValidationError" });

			let started = Date.now();
			const replayed = await api().post(`/api/admin/dead-letters/${dead.id}/replay`);
			expect(replayed.status).toBe(200);
			expect(Date.now() - started).toBeLessThan(2000);
			expect(replayed.body).toMatchObject({ id: dead.id, attempts: 1 });
			expect(await deadLetterWithAttempts(orderId, 2)).toMatchObject({ id: dead.id, replays: 1, errorName: "ValidationError" });

			started = Date.now();
			const replayedByFilter = await api().post("/api/admin/dead-letters/replay").send({ orderId });
			expect(replayedByFilter.status).toBe(200);
			expect(Date.now() - started).toBeLessThan(2000);
			expect(replayedByFilter.body).toEqual({ replayed: 1, ids: [dead.id] });
			expect(await deadLetterWithAttempts(orderId, 3)).toMatchObject({ id: dead.id, replays: 2 });
			expect((await listOf(orderId)).count).toBe(1);

			const purged = await api().delete(`/api/admin/dead-letters/${dead.id}`);
			expect(purged.status).toBe(200);
			expect(purged.body).toMatchObject({ id: dead.id, attempts: 3 });
			await api().get(`/api/admin/dead-letters/${dead.id}`).expect(404);
			expect(await listOf(orderId)).toEqual({ rows: [], count: 0 });
		});
	});

	describe("When a dead letter is not worth replaying", () => {
		it("should refuse to replay a message no node of the cluster signed, purge it, and answer 404 for it afterwards", async () => {
			const queue = eventQueueNames(`MOL-${namespace}`, "processor", "order.created").main;
			const channel = await amqpConnection.createChannel();
			channel.sendToQueue(queue, Buffer.from(`garbage ${randomUUID()}`), { persistent: true });
			await channel.close();

			const dead = await waitFor("the unsigned message among the dead letters", async () => {
				const res = await api().get("/api/admin/dead-letters?errorContains=signature");
				return res.body.rows?.[0];
			});
			expect(dead.payload).toMatch(/^garbage /);
			expect(dead.errorName).toBe("BusPacketRejectedError");

			const refused = await api().post(`/api/admin/dead-letters/${dead.id}/replay`);
			expect(refused.status).toBe(409);
			expect(refused.body.detail).toMatch(/not signed with the cluster key.*purge it/);
			const documented = responseValidatorFor(openApiDocument(), "post", "/api/admin/dead-letters/{id}/replay", 409);
			expect({ valid: documented(refused.body), errors: documented.errors }).toEqual({ valid: true, errors: null });
			// Refused, it stays where it was, for an operator to look at.
			await api().get(`/api/admin/dead-letters/${dead.id}`).expect(200);
			const bulk = await api().post("/api/admin/dead-letters/replay").send({ errorContains: "signature" });
			expect(bulk.body).toMatchObject({ replayed: 0 });

			await api().delete(`/api/admin/dead-letters/${dead.id}`).expect(200);
			await api().get(`/api/admin/dead-letters/${dead.id}`).expect(404);
			await api().post(`/api/admin/dead-letters/${dead.id}/replay`).expect(404);
		});

		it("should reject a filter it does not know", async () => {
			const res = await api().get("/api/admin/dead-letters?event=order.shipped");
			expect(res.status).toBe(400);
			expect(res.body.errors[0].field).toBe("event");
		});
	});
});
