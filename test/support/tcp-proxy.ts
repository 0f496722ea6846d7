/**
 * A TCP proxy in front of a real server, to take that server "down" for one client without touching
 * the server itself: `down()` cuts every connection and refuses new ones until `up()`.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpProxy {
	port: number;
	/** Connections refused while down: how often the client tried to get through. */
	refused(): number;
	down(): void;
	up(): void;
	close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
	let isDown = false;
	let refusedCount = 0;
	const sockets = new Set<Socket>();
	const track = (s: Socket) => {
		sockets.add(s);
		s.once("close", () => sockets.delete(s));
		s.on("error", () => undefined);
	};
	const server: Server = createServer(client => {
		track(client);
		if (isDown) {
			refusedCount++;
			client.destroy();
			return;
		}
		const upstream = connect(targetPort, targetHost);
		track(upstream);
		client.pipe(upstream).pipe(client);
		client.once("close", () => upstream.destroy());
		upstream.once("close", () => client.destroy());
	});
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	return {
		port: (server.address() as AddressInfo).port,
		refused: () => refusedCount,
		down() {
			isDown = true;
			for (const s of sockets) s.destroy();
		},
		up() {
			isDown = false;
		},
		close() {
			for (const s of sockets) s.destroy();
			return new Promise(resolve => server.close(() => resolve()));
		}
	};
}
