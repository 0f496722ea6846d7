import type { ChannelModel, ConfirmChannel } from "amqplib";

/**
 * The confirm channel every publish of the reliable transporter uses (balanced events, retries,
 * dead letters). RabbitMQ closes a channel on a channel-level error (a publish it refuses:
 * ACCESS_REFUSED, NOT_FOUND) while the connection stays up: then a new one is opened, after a second
 * and with backoff, so that the node does not refuse every publish until it restarts. A lost
 * connection opens its own in the transporter's onConnected.
 */

/** What the confirm channel reads and writes on its transporter. */
export interface ConfirmChannelHost {
	confirmChannel: ConfirmChannel | null;
	readonly connected: boolean;
	readonly connection: ChannelModel;
	readonly deadLetterExchange: string;
	/** True from `disconnect` on: a closed confirm channel is then not opened again. */
	readonly disconnecting: boolean;
	readonly logger: { info(...args: unknown[]): void; warn(...args: unknown[]): void; error(...args: unknown[]): void };
}

/** Opens a confirm channel on the host's connection, to be opened again when RabbitMQ closes it. */
export async function openConfirmChannel(host: ConfirmChannelHost): Promise<ConfirmChannel> {
	const connection = host.connection;
	const confirmChannel: ConfirmChannel = await connection.createConfirmChannel();
	confirmChannel.on("error", (err: Error) => host.logger.error("AMQP confirm channel error.", err));
	confirmChannel.on("close", () => {
		if (host.confirmChannel !== confirmChannel) return;
		host.confirmChannel = null;
		if (!host.disconnecting) reopenConfirmChannel(host, connection, 1000);
	});
	await confirmChannel.assertExchange(host.deadLetterExchange, "direct", { durable: true });
	return confirmChannel;
}

function reopenConfirmChannel(host: ConfirmChannelHost, connection: ChannelModel, delayMs: number): void {
	const timer = setTimeout(() => {
		// Gone, or already replaced (a reconnection opened its own): nothing to do.
		if (host.disconnecting || !host.connected || host.connection !== connection || host.confirmChannel) return;
		openConfirmChannel(host).then(
			channel => {
				if (host.confirmChannel || host.connection !== connection) return void channel.close().catch(() => undefined);
				host.confirmChannel = channel;
				host.logger.info("AMQP confirm channel is open again.");
			},
			(err: Error) => {
				host.logger.warn(`The AMQP confirm channel could not be opened again; next try in ${Math.min(delayMs * 2, 30_000)} ms.`, err.message);
				reopenConfirmChannel(host, connection, Math.min(delayMs * 2, 30_000));
			}
		);
	}, delayMs);
	timer.unref();
}
