/**
 * How long the gateway's HTTP server waits for a client: a request's headers and body must arrive
 * within their timeouts, or the server answers 408 and closes the connection. A slow client
 * (slowloris, a body dribbled a byte at a time) cannot hold a socket for Node's default 300 s.
 */
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { startSystem, type RunningSystem } from "../support/system";

/** What a raw client got back, and how long the server kept its connection open. */
interface SlowClientResult {
	response: string;
	openForMs: number;
}

/**
 * Opens a connection, sends `start`, then one byte of `dribble` every `everyMs` until the server
 * closes the connection (or `giveUpMs` passes, and the client closes it itself).
 */
function slowClient(port: number, start: string, dribble: string, everyMs: number, giveUpMs: number): Promise<SlowClientResult> {
	return new Promise((resolve, reject) => {
		const began = Date.now();
		const socket = connect({ host: "127.0.0.1", port });
		let response = "";
		let sent = 0;
		const timer = setInterval(() => {
			if (!socket.writable) return;
			socket.write(dribble[sent % dribble.length]);
			sent++;
		}, everyMs);
		const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
		socket.setEncoding("utf8");
		socket.on("data", chunk => (response += chunk));
		socket.on("error", () => undefined);
		socket.on("close", () => {
			clearInterval(timer);
			clearTimeout(giveUp);
			resolve({ response, openForMs: Date.now() - began });
		});
		socket.once("connect", () => socket.write(start));
		socket.once("error", err => (socket.connecting ? reject(err) : undefined));
	});
}

describe("Gateway request timeouts, as configured", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		system = await startSystem({ services: ["api"] });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should give a client 30 s for a whole request and 10 s for its headers, checked every second", () => {
		expect(system.server.requestTimeout).toBe(30_000);
		expect(system.server.headersTimeout).toBe(10_000);
	});
});

describe("Gateway request timeouts, with a 1 s request timeout (test setting)", () => {
	let system: RunningSystem;
	let port: number;

	beforeAll(async () => {
		system = await startSystem({ services: ["api"], adjustSettings: settings => Object.assign(settings.api, { requestTimeout: 1000, headersTimeout: 500 }) });
		port = (system.server.address() as AddressInfo).port;
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should answer 408 and close the connection of a client that sends its headers and dribbles its body", async () => {
		const headers = "POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{";
		const { response, openForMs } = await slowClient(port, headers, '"customerId":"slow",', 100, 15_000);

		expect(response).toMatch(/^HTTP\/1\.1 408 /);
		// The timeout plus one check interval at most, far from the 15 s the client would have gone on.
		expect(openForMs).toBeGreaterThanOrEqual(900);
		expect(openForMs).toBeLessThan(4000);
	});

	it("should close the connection of a client that dribbles its headers", async () => {
		const { response, openForMs } = await slowClient(port, "GET /api/health/live HTTP/1.1\r\n", "X-Slow: a\r\n", 100, 15_000);

		expect(response).toMatch(/^HTTP\/1\.1 408 /);
		expect(openForMs).toBeLessThan(4000);
	});

	it("should still serve a client that sends its request at once", async () => {
		const res = await system.anonymous().get("/api/health/live");
		expect(res.status).toBe(200);
	});
});
