/**
 * What both baseline processes share: configuration from the environment, the transaction helper,
 * the outbox (its table, the insert inside a transaction, the relay) and the consumer with its
 * graceful stop. See index.ts for what the baseline is and what it leaves out.
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from "amqplib";
import { Pool, type PoolClient, type QueryResult, type QueryResultRow } from "pg";

/** The batch the product's relay claims and publishes at once (its `outboxBatchSize`). */
const RELAY_BATCH = 50;
/** A claimed row whose relay died is claimable again after this (the product's lease is 10 s too). */
const RELAY_LEASE_SECONDS = 10;
/** Unacknowledged deliveries per consumer, as the product's transporter. */
const PREFETCH = 8;

export function requiredEnv(name: string): string {
	const value = process.env[name];
	if (!value) throw new Error(`${name} is not set.`);
	return value;
}

export function log(message: string): void {
	process.stderr.write(`[${process.env.BASELINE_NAME ?? "baseline"}] ${message}\n`);
}

/** Tells the parent (index.ts) that HTTP answers and the consumer is subscribed. */
export function signalReady(): void {
	process.send?.("ready");
}

export function createPool(): Pool {
	return new Pool({ connectionString: requiredEnv("BASELINE_DATABASE_URL"), max: 10 });
}

/** Runs a named statement: prepared once per connection, as the product's driver may do too. */
export function sql<R extends QueryResultRow = QueryResultRow>(db: Pool | PoolClient, name: string, text: string, values: unknown[]): Promise<QueryResult<R>> {
	return (db as PoolClient).query<R>({ name, text, values });
}

/** Runs `work` in one transaction on one connection; commits, or rolls back and rethrows. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query("BEGIN");
		const result = await work(client);
		await client.query("COMMIT");
		return result;
	} catch (err) {
		await client.query("ROLLBACK").catch(() => undefined);
		throw err;
	} finally {
		client.release();
	}
}

/** The outbox table and the partial index the relay (and the harness's backlog count) reads. */
export const OUTBOX_SCHEMA = `
	CREATE TABLE IF NOT EXISTS outbox_events (
		id bigserial PRIMARY KEY,
		event_name text NOT NULL,
		payload jsonb NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now(),
		claimed_until timestamptz,
		sent_at timestamptz);
	CREATE INDEX IF NOT EXISTS outbox_events_unsent_idx ON outbox_events (id) WHERE sent_at IS NULL;`;

/** Queues an event inside the caller's transaction; the relay publishes it after commit. */
export async function enqueueEvent(client: PoolClient, eventName: string, payload: object): Promise<void> {
	await sql(client, "outbox-insert", "INSERT INTO outbox_events (event_name, payload) VALUES ($1, $2)", [eventName, JSON.stringify(payload)]);
}

export interface Broker {
	connection: ChannelModel;
	publisher: ConfirmChannel;
	consumer: Channel;
	closing: boolean;
}

/**
 * One connection, a confirm channel to publish on and a channel to consume from; both queues are
 * durable and declared here, so either process may start first. No reconnection: a lost broker
 * ends the process (the product reconnects; the bench would notice either way).
 */
export async function connectBroker(queues: string[]): Promise<Broker> {
	const connection = await amqp.connect(requiredEnv("BASELINE_AMQP_URL"), { noDelay: true });
	const broker: Broker = { connection, publisher: await connection.createConfirmChannel(), consumer: await connection.createChannel(), closing: false };
	for (const queue of queues) await broker.publisher.assertQueue(queue, { durable: true });
	connection.on("close", () => {
		if (broker.closing) return;
		log("The broker connection closed; exiting.");
		process.exit(1);
	});
	connection.on("error", (err: Error) => log(`Broker connection error: ${err.message}`));
	return broker;
}

/**
 * The relay: claims up to {@link RELAY_BATCH} unsent rows for a lease, publishes each as a
 * persistent message, waits for the broker's confirms, then marks them sent in one UPDATE. No
 * transaction is held while publishing. Wake-ups during a pass coalesce into one more pass.
 */
export function startRelay(pool: Pool, channel: ConfirmChannel) {
	let running: Promise<void> | undefined;
	let wakeAgain = false;

	async function publishBatch(): Promise<number> {
		const { rows } = await sql<{ id: string; event_name: string; payload: { eventId: string } }>(
			pool,
			"outbox-claim",
			`UPDATE outbox_events SET claimed_until = now() + make_interval(secs => $2)
			 WHERE id IN (SELECT id FROM outbox_events WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
			              ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
			 RETURNING id, event_name, payload`,
			[RELAY_BATCH, RELAY_LEASE_SECONDS]
		);
		if (rows.length === 0) return 0;
		rows.sort((a, b) => Number(a.id) - Number(b.id));
		const ids = rows.map(row => row.id);
		try {
			for (const row of rows) {
				channel.sendToQueue(row.event_name, Buffer.from(JSON.stringify(row.payload)), {
					persistent: true,
					messageId: row.payload.eventId,
					contentType: "application/json"
				});
			}
			await channel.waitForConfirms();
		} catch (err) {
			// Released at once rather than at the lease's end; the consumers drop any duplicate.
			await pool.query("UPDATE outbox_events SET claimed_until = NULL WHERE id = ANY($1)", [ids]);
			throw err;
		}
		await sql(pool, "outbox-sent", "UPDATE outbox_events SET sent_at = now() WHERE id = ANY($1)", [ids]);
		return rows.length;
	}

	function wake(): Promise<void> {
		if (running) {
			wakeAgain = true;
			return running;
		}
		running = (async () => {
			do {
				wakeAgain = false;
				try {
					while ((await publishBatch()) === RELAY_BATCH);
				} catch (err) {
					log(`Relay pass failed, retried within a second: ${(err as Error).message}`);
				}
			} while (wakeAgain);
			running = undefined;
		})();
		return running;
	}

	const timer = setInterval(() => void wake(), 1000);
	return {
		wake,
		/** Stops the timer and publishes what is left. */
		async stop(): Promise<void> {
			clearInterval(timer);
			await wake();
		}
	};
}

/**
 * Consumes a durable queue with manual acks: a message is acked after `handle` resolved (its
 * transaction committed) and requeued if it threw. `stop()` cancels the subscription and waits
 * for the messages in hand.
 */
export async function consume(channel: Channel, queue: string, handle: (payload: never) => Promise<void>) {
	await channel.assertQueue(queue, { durable: true });
	await channel.prefetch(PREFETCH);
	const inFlight = new Set<Promise<void>>();
	const { consumerTag } = await channel.consume(queue, (message: ConsumeMessage | null) => {
		if (!message) return;
		const work = handle(JSON.parse(message.content.toString()) as never)
			.then(() => channel.ack(message))
			.catch((err: Error) => {
				log(`Handling a '${queue}' message failed, requeued: ${err.message}`);
				channel.nack(message, false, true);
			})
			.finally(() => inFlight.delete(work));
		inFlight.add(work);
	});
	return {
		async stop(): Promise<void> {
			await channel.cancel(consumerTag);
			await Promise.all(inFlight);
		}
	};
}

/** On SIGTERM or SIGINT, runs `steps` in order once, closes the broker and the pool, and exits. */
export function onShutdown(broker: Broker, pool: Pool, steps: Array<() => Promise<void>>): void {
	let stopping = false;
	const shutdown = async () => {
		if (stopping) return;
		stopping = true;
		try {
			for (const step of steps) await step();
			broker.closing = true;
			await broker.connection.close();
			await pool.end();
			process.exit(0);
		} catch (err) {
			log(`Shutdown failed: ${(err as Error).message}`);
			process.exit(1);
		}
	};
	process.once("SIGTERM", shutdown);
	process.once("SIGINT", shutdown);
}
