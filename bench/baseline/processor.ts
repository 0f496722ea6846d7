/**
 * The baseline's processor process: for each `order.created`, reserves the stock of the order's
 * lines (or fails the order) and queues `order.processed`, all in one transaction.
 * Environment: BASELINE_DATABASE_URL, BASELINE_AMQP_URL.
 */
import { randomUUID } from "node:crypto";
import { connectBroker, consume, createPool, enqueueEvent, inTransaction, log, onShutdown, OUTBOX_SCHEMA, signalReady, sql, startRelay } from "./common";

interface OrderCreated {
	eventId: string;
	orderId: string;
	items: Array<{ sku: string; quantity: number }>;
}

// The demo catalogue of the product: SKU-0001 … SKU-0100, 1,000,000 units each.
const SCHEMA = `
	CREATE TABLE IF NOT EXISTS processing_records (
		order_id uuid PRIMARY KEY,
		event_id text NOT NULL,
		status text NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now());
	CREATE TABLE IF NOT EXISTS stock (
		sku text PRIMARY KEY,
		available integer NOT NULL CHECK (available >= 0),
		reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0));
	CREATE TABLE IF NOT EXISTS stock_reservations (
		order_id uuid NOT NULL,
		sku text NOT NULL,
		quantity integer NOT NULL,
		PRIMARY KEY (order_id, sku));
	INSERT INTO stock (sku, available)
		SELECT 'SKU-' || lpad(n::text, 4, '0'), 1000000 FROM generate_series(1, 100) AS n
		ON CONFLICT DO NOTHING;
	${OUTBOX_SCHEMA}`;

async function main(): Promise<void> {
	process.title = "baseline-processor";
	const pool = createPool();
	await pool.query(SCHEMA);
	const broker = await connectBroker(["order.created", "order.processed"]);
	const relay = startRelay(pool, broker.publisher);

	const consumer = await consume(broker.consumer, "order.created", async (event: OrderCreated) => {
		// Quantities per sku, in sku order: rows are locked in one order, so two orders never deadlock.
		const wanted = new Map<string, number>();
		for (const item of event.items) wanted.set(item.sku, (wanted.get(item.sku) ?? 0) + item.quantity);
		const skus = [...wanted.keys()].sort();

		const queued = await inTransaction(pool, async client => {
			// The unique order id makes a redelivered event a no-op.
			const record = await sql(
				client,
				"record-insert",
				"INSERT INTO processing_records (order_id, event_id, status) VALUES ($1, $2, 'processing') ON CONFLICT (order_id) DO NOTHING",
				[event.orderId, event.eventId]
			);
			if (record.rowCount === 0) return false;
			const lock = "SELECT sku, available FROM stock WHERE sku = ANY($1) ORDER BY sku FOR UPDATE";
			const { rows } = await sql<{ sku: string; available: number }>(client, "stock-lock", lock, [skus]);
			const available = new Map(rows.map(row => [row.sku, row.available]));
			const status = skus.every(sku => (available.get(sku) ?? 0) >= wanted.get(sku)!) ? "completed" : "failed";
			if (status === "completed") {
				for (const sku of skus) {
					const reserve = "UPDATE stock SET available = available - $2, reserved = reserved + $2 WHERE sku = $1";
					await sql(client, "stock-reserve", reserve, [sku, wanted.get(sku)]);
					const reservation = "INSERT INTO stock_reservations (order_id, sku, quantity) VALUES ($1, $2, $3)";
					await sql(client, "reservation-insert", reservation, [event.orderId, sku, wanted.get(sku)]);
				}
			}
			await sql(client, "record-settle", "UPDATE processing_records SET status = $2 WHERE order_id = $1", [event.orderId, status]);
			await enqueueEvent(client, "order.processed", { eventId: randomUUID(), orderId: event.orderId, status });
			return true;
		});
		if (queued) void relay.wake();
	});

	onShutdown(broker, pool, [() => consumer.stop(), () => relay.stop()]);
	log("Consuming order.created");
	signalReady();
}

main().catch((err: Error) => {
	log(`Could not start: ${err.stack ?? err.message}`);
	process.exit(1);
});
