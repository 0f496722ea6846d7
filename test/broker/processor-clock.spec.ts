/**
 * The processor reads time from its broker's clock (lib/clock.ts): the answers it sends carry the
 * clock's time, so a test that moves the clock sees it in them. No transporter, embedded PostgreSQL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { ServiceBroker, type Context } from "moleculer";
import { useClock } from "../../lib/clock";
import {
	ConsumerGroups,
	Events,
	type OrderCancelledEvent,
	type OrderCompensatedEvent,
	type OrderCreatedEvent,
	type OrderProcessedEvent
} from "../../lib/contracts/events";
import { createBrokerOptions, readEnvironment, serviceSettings } from "../../moleculer.config";
import { servicesToCreate } from "../../services";
import { ManualClock } from "../support/manual-clock";
import { seedEmbeddedDatabases } from "../support/pglite-template";
import { orderCancelled, orderCreated } from "../support/processor-node";
import { LOCAL_CLUSTER_SECRET, waitFor } from "../support/services";

describe("Test the processor's clock", () => {
	const start = new Date("2030-01-02T03:04:05.006Z");
	const clock = new ManualClock(start);
	const answers: Array<OrderProcessedEvent | OrderCompensatedEvent> = [];
	let broker: ServiceBroker;
	let dataDir: string;

	/** Without a transporter the handler runs inside `emit`: it is done when `emit` resolves. */
	const deliver = (event: OrderCreatedEvent | OrderCancelledEvent) => {
		const name = "cause" in event ? Events.OrderCancelled : Events.OrderCreated;
		return broker.emit(name, event, { groups: [ConsumerGroups[name]], throwError: true });
	};
	/** The answer of the order's kind, once the outbox relay delivered it. */
	const answerOf = (orderId: string, kind: "processed" | "compensated") =>
		waitFor(`the ${kind} answer of order ${orderId}`, async () =>
			answers.find(a => a.orderId === orderId && ("cause" in a ? "compensated" : "processed") === kind)
		);

	beforeAll(async () => {
		dataDir = mkdtempSync(join(tmpdir(), "order-pipeline-clock-"));
		await seedEmbeddedDatabases(dataDir);
		const config = readEnvironment({
			NAMESPACE: `c${randomUUID().slice(0, 8)}`,
			SERVICES: "processor",
			METRICS_PORT: "off",
			CLUSTER_SECRET: LOCAL_CLUSTER_SECRET,
			DATA_DIR: dataDir
		});
		broker = new ServiceBroker({ ...createBrokerOptions(config), logger: false });
		useClock(broker, clock);
		for (const schema of servicesToCreate(["processor"], serviceSettings(config))) broker.createService(schema);
		// The orders side, as far as the processor's answers go.
		broker.createService({
			name: "answers",
			events: {
				[Events.OrderProcessed]: {
					group: ConsumerGroups[Events.OrderProcessed],
					handler: (ctx: Context<OrderProcessedEvent>) => void answers.push(ctx.params)
				},
				[Events.OrderCompensated]: {
					group: ConsumerGroups[Events.OrderCompensated],
					handler: (ctx: Context<OrderCompensatedEvent>) => void answers.push(ctx.params)
				}
			}
		});
		await broker.start();
		await broker.call("processor.setStock", { sku: "CLOCK-1", available: 10 });
	});
	afterAll(async () => {
		await broker?.stop();
		rmSync(dataDir, { recursive: true, force: true });
	});

	it("should stamp 'order.processed' with the clock's time", async () => {
		const orderId = randomUUID();
		await deliver(orderCreated(orderId, [{ sku: "CLOCK-1", quantity: 1 }]));
		expect((await answerOf(orderId, "processed")).occurredAt).toBe(start.toISOString());
	});

	it("should stamp 'order.compensated' with the clock's time, once it moved on", async () => {
		const orderId = randomUUID();
		await deliver(orderCreated(orderId, [{ sku: "CLOCK-1", quantity: 1 }]));
		clock.advance(90_000);
		await deliver(orderCancelled(orderId, "expired"));
		expect((await answerOf(orderId, "compensated")).occurredAt).toBe(new Date(start.getTime() + 90_000).toISOString());
	});
});
