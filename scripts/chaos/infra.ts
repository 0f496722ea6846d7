/**
 * What the chaos run needs of RabbitMQ beyond the test kit (test/support/cluster.ts makes its
 * databases and vhost): rabbitmqctl run asynchronously, so that closing connections in the middle of
 * the load does not freeze the clients (it boots an Erlang VM per call, a second or more each),
 * and a look at queue depths and dead letters for the ledger.
 */
import { execFile } from "node:child_process";
import amqp from "amqplib";

/** Runs rabbitmqctl (asynchronously: it boots an Erlang VM and takes a second or so). */
function rabbitmqctl(args: string[], timeoutMs = 30_000): Promise<string> {
	return new Promise((resolve, reject) => {
		execFile("rabbitmqctl", args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
			if (err) reject(new Error(`rabbitmqctl ${args.join(" ")} failed: ${err.message} ${String(stderr).trim()}`));
			else resolve(String(stdout));
		});
	});
}

/**
 * Closes every client connection of one vhost (and only those): the broker-side equivalent of a
 * network blip. Returns how many were closed. The shared closeVhostConnections() does the same with
 * execFileSync, which would stop the load for the seconds rabbitmqctl takes.
 */
export async function closeVhostConnections(vhost: string, reason: string): Promise<number> {
	const listing = await rabbitmqctl(["list_connections", "pid", "vhost", "--quiet", "--no-table-headers"]);
	const pids = listing
		.split("\n")
		.map(line => line.trim().split("\t"))
		.filter(cols => cols.length >= 2 && cols[1] === vhost)
		.map(cols => cols[0]);
	let closed = 0;
	for (const pid of pids) {
		try {
			await rabbitmqctl(["close_connection", pid, reason]);
			closed++;
		} catch {
			/* the connection went away meanwhile */
		}
	}
	return closed;
}

/** Message counts of queues of a vhost; a queue that does not exist counts as null. */
export async function queueDepths(vhostUrl: string, queues: string[]): Promise<Record<string, number | null>> {
	const connection = await amqp.connect(vhostUrl);
	connection.on("error", () => undefined);
	const depths: Record<string, number | null> = {};
	try {
		for (const queue of queues) {
			// A missing queue closes the channel (404): one channel per check.
			const channel = await connection.createChannel();
			channel.on("error", () => undefined);
			try {
				depths[queue] = (await channel.checkQueue(queue)).messageCount;
				await channel.close();
			} catch {
				depths[queue] = null;
			}
		}
	} finally {
		await connection.close().catch(() => undefined);
	}
	return depths;
}

/** Up to `max` messages of a queue, described (headers and body), left in the queue. */
export async function peekQueue(vhostUrl: string, queue: string, max: number): Promise<string[]> {
	const connection = await amqp.connect(vhostUrl);
	connection.on("error", () => undefined);
	const out: string[] = [];
	try {
		const channel = await connection.createChannel();
		channel.on("error", () => undefined);
		for (let i = 0; i < max; i++) {
			const msg = await channel.get(queue, { noAck: false });
			if (!msg) break;
			const headers = msg.properties.headers ?? {};
			const pick = ["x-attempts", "x-last-error", "x-error-name", "x-original-queue", "x-dead-lettered-at"]
				.filter(h => headers[h] !== undefined)
				.map(h => `${h}=${String(headers[h])}`)
				.join(" ");
			out.push(`${pick} body=${msg.content.toString("utf8").slice(0, 600)}`);
		}
		// Closing without acking returns the messages to the queue.
		await channel.close().catch(() => undefined);
	} finally {
		await connection.close().catch(() => undefined);
	}
	return out;
}
