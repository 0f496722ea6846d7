/**
 * The baseline's orders process: `POST /api/orders` stores a pending order and its
 * `order.created` event in one transaction; the `order.processed` consumer settles the order.
 * Environment: BASELINE_DATABASE_URL, BASELINE_AMQP_URL, BASELINE_PORT.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connectBroker, consume, createPool, enqueueEvent, inTransaction, log, onShutdown, OUTBOX_SCHEMA, requiredEnv, signalReady, sql, startRelay } from "./common";

interface Item {
	sku: string;
	quantity: number;
	unitPrice: number;
}
interface NewOrder {
	customerId: string;
	items: Item[];
	currency: string;
}

const SCHEMA = `
	CREATE TABLE IF NOT EXISTS orders (
		id uuid PRIMARY KEY,
		customer_id text NOT NULL,
		items jsonb NOT NULL,
		total_amount numeric(16, 2) NOT NULL,
		currency text NOT NULL,
		status text NOT NULL,
		created_at timestamptz NOT NULL,
		updated_at timestamptz NOT NULL);
	CREATE TABLE IF NOT EXISTS processed_events (event_id text PRIMARY KEY, processed_at timestamptz NOT NULL DEFAULT now());
	${OUTBOX_SCHEMA}`;

/** The minimal checks; returns the order, or why the body is refused. */
function parseOrder(body: string): NewOrder | string {
	let value: Partial<NewOrder>;
	try {
		value = JSON.parse(body) as Partial<NewOrder>;
	} catch {
		return "The body is not JSON.";
	}
	if (typeof value?.customerId !== "string" || !value.customerId) return "customerId must be a string.";
	if (!Array.isArray(value.items) || value.items.length === 0) return "items must be a non-empty array.";
	for (const item of value.items as Partial<Item>[]) {
		if (typeof item?.sku !== "string" || !Number.isInteger(item.quantity) || item.quantity! <= 0 || typeof item.unitPrice !== "number") {
			return "Each item needs a sku, a positive integer quantity and a unitPrice.";
		}
	}
	return { customerId: value.customerId, items: value.items, currency: typeof value.currency === "string" ? value.currency : "EUR" };
}

async function main(): Promise<void> {
	process.title = "baseline-orders";
	const pool = createPool();
	await pool.query(SCHEMA);
	const broker = await connectBroker(["order.created", "order.processed"]);
	const relay = startRelay(pool, broker.publisher);

	async function createOrder(order: NewOrder) {
		const id = randomUUID();
		const cents = order.items.reduce((sum, item) => sum + item.quantity * Math.round(item.unitPrice * 100), 0);
		const createdAt = await inTransaction(pool, async client => {
			const { rows } = await sql<{ created_at: Date }>(
				client,
				"order-insert",
				`INSERT INTO orders (id, customer_id, items, total_amount, currency, status, created_at, updated_at)
				 VALUES ($1, $2, $3, $4, $5, 'pending', now(), now()) RETURNING created_at`,
				[id, order.customerId, JSON.stringify(order.items), cents / 100, order.currency]
			);
			await enqueueEvent(client, "order.created", { eventId: randomUUID(), orderId: id, customerId: order.customerId, items: order.items });
			return rows[0].created_at;
		});
		void relay.wake();
		return { id, ...order, totalAmount: cents / 100, status: "pending", createdAt, updatedAt: createdAt };
	}

	// Once stopping, every answer closes its keep-alive connection, so that the server can close.
	let stopping = false;
	const send = (res: ServerResponse, status: number, body: object) =>
		res.writeHead(status, { "Content-Type": "application/json", ...(stopping && { Connection: "close" }) }).end(JSON.stringify(body));

	const server = createServer((req: IncomingMessage, res: ServerResponse) => {
		if (req.method !== "POST" || req.url !== "/api/orders") return send(res, 404, { message: "Not found." });
		let body = "";
		req.setEncoding("utf8");
		req.on("data", (chunk: string) => (body += chunk));
		req.on("end", () => {
			const order = parseOrder(body);
			if (typeof order === "string") return send(res, 400, { message: order });
			createOrder(order).then(
				created => send(res, 201, created),
				(err: Error) => {
					log(`Creating an order failed: ${err.message}`);
					send(res, 500, { message: "The order could not be stored." });
				}
			);
		});
	});

	// Settles an order once per event id: the inbox row and the status change commit together.
	const consumer = await consume(broker.consumer, "order.processed", async (event: { eventId: string; orderId: string; status: string }) => {
		await inTransaction(pool, async client => {
			const inbox = await sql(client, "inbox-insert", "INSERT INTO processed_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING", [event.eventId]);
			if (inbox.rowCount === 0) return;
			const settle = "UPDATE orders SET status = $2, updated_at = now() WHERE id = $1 AND status = 'pending'";
			await sql(client, "order-settle", settle, [event.orderId, event.status]);
		});
	});

	const port = Number(requiredEnv("BASELINE_PORT"));
	await new Promise<void>(resolve => server.listen(port, "127.0.0.1", resolve));
	onShutdown(broker, pool, [
		() =>
			new Promise<void>(resolve => {
				stopping = true;
				server.close(() => resolve());
			}),
		() => consumer.stop(),
		() => relay.stop()
	]);
	log(`Listening on http://127.0.0.1:${port}`);
	signalReady();
}

main().catch((err: Error) => {
	log(`Could not start: ${err.stack ?? err.message}`);
	process.exit(1);
});
