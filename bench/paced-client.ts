/**
 * The fixed-rate pacer of the load generator: one order every 1/rate s for `seconds`, whatever the
 * answers do (an open loop with evenly spaced arrivals, not autocannon's bursts).
 *
 * It speaks HTTP/1.1 itself on keep-alive sockets, with every request rendered once up front, and
 * reads an answer only as far as its status, its length and its end. Node's HTTP client costs about
 * as much CPU per order as a whole node of the product at these rates, and a generator that is busy
 * reads answers late and counts them slower than they were. Connections are opened before the clock
 * starts (more, up to `connections`, when every one is waiting for an answer), so the first second
 * does not measure connection set-up either.
 */
import net from "node:net";
import { percentile } from "./stats";

export interface PacedJob {
	url: string;
	authorization: string;
	bodies: string[];
	rate: number;
	seconds: number;
	/** At most this many connections at once; an order due while all are busy waits for one. */
	connections: number;
	/** An answer not complete after this many ms fails its order and closes its connection. */
	timeoutMs?: number;
}

export interface PacedHooks {
	/** The clock starts: the first order is sent now. */
	started(): void;
	/** A whole answer: its status, ms from the request written to the answer's last byte, its body. */
	answered(status: number, ms: number, body: Buffer): void;
	/** An order with no answer: the connection failed, closed or timed out. */
	failed(message: string): void;
}

export interface PacedResult {
	/** How late orders were written after their due time, ms: the generator's own lateness. */
	sendLagMs: { p99: number; max: number };
}

/** One HTTP/1.1 response being read: its head, then `Content-Length` bytes or chunks to the last. */
class ResponseReader {
	private buffer: Buffer = Buffer.alloc(0);

	/** Adds bytes; returns the response when it is complete (and keeps any bytes after it). */
	push(chunk: Buffer): { status: number; body: Buffer; close: boolean } | undefined {
		this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
		const headEnd = this.buffer.indexOf("\r\n\r\n");
		if (headEnd < 0) return undefined;
		const head = this.buffer.toString("latin1", 0, headEnd);
		const status = Number(head.slice(9, 12));
		const close = /\r\nconnection:\s*close/i.test(head);
		const start = headEnd + 4;
		const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
		let end: number;
		let body: Buffer;
		if (length) {
			end = start + Number(length[1]);
			if (this.buffer.length < end) return undefined;
			body = this.buffer.subarray(start, end);
		} else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
			const parts: Buffer[] = [];
			let at = start;
			for (;;) {
				const lineEnd = this.buffer.indexOf("\r\n", at);
				if (lineEnd < 0) return undefined;
				const size = parseInt(this.buffer.toString("latin1", at, lineEnd), 16);
				if (size === 0) {
					// The last chunk, then trailers (usually none) up to an empty line.
					const trailerEnd = this.buffer.indexOf("\r\n\r\n", lineEnd);
					if (trailerEnd < 0) return undefined;
					end = trailerEnd + 4;
					break;
				}
				if (this.buffer.length < lineEnd + 2 + size + 2) return undefined;
				parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
				at = lineEnd + 2 + size + 2;
			}
			body = Buffer.concat(parts);
		} else {
			// No length and not chunked: the body runs to the connection's end (1xx/204/304 have none).
			end = start;
			body = Buffer.alloc(0);
		}
		this.buffer = this.buffer.subarray(end);
		return { status, body, close };
	}
}

interface Connection {
	socket: net.Socket;
	reader: ResponseReader;
	/** performance.now() when the order in flight was written; undefined when the connection is idle. */
	writtenAt?: number;
	ready: boolean;
}

export function runPaced(job: PacedJob, hooks: PacedHooks): Promise<PacedResult> {
	const target = new URL(job.url);
	const port = Number(target.port || 80);
	const timeoutMs = job.timeoutMs ?? 10_000;
	const requests = job.bodies.map(body =>
		Buffer.from(
			`POST /api/orders HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\n` +
				(job.authorization ? `Authorization: ${job.authorization}\r\n` : "") +
				`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
		)
	);
	const total = Math.round(job.rate * job.seconds);
	const idle: Connection[] = [];
	const open = new Set<Connection>();
	/** Orders due while every connection was busy: the index of their request body. */
	const waiting: number[] = [];
	const lags: number[] = [];
	let next = 0;
	let sent = 0;
	let settled = 0;

	return new Promise<PacedResult>((resolve, reject) => {
		let finished = false;
		const finish = () => {
			if (finished) return;
			finished = true;
			clearInterval(sweeper);
			for (const c of open) c.socket.destroy();
			resolve({ sendLagMs: { p99: percentile(lags, 99), max: lags.reduce((a, b) => Math.max(a, b), 0) } });
		};
		const settle = () => {
			if (++settled === total) finish();
		};
		const write = (c: Connection, request: number) => {
			c.writtenAt = performance.now();
			c.socket.write(requests[request]);
		};
		/** The connection is free again: it takes the oldest waiting order, or goes idle. */
		const release = (c: Connection) => {
			c.writtenAt = undefined;
			const request = waiting.shift();
			if (request !== undefined) write(c, request);
			else idle.push(c);
		};
		/** The connection is gone: its order in flight (if any) fails. */
		const drop = (c: Connection, reason: string) => {
			if (!open.delete(c)) return;
			const i = idle.indexOf(c);
			if (i >= 0) idle.splice(i, 1);
			c.socket.destroy();
			if (c.writtenAt !== undefined) {
				c.writtenAt = undefined;
				hooks.failed(reason);
				settle();
			}
			// Orders still waiting need a connection: open one in its place.
			if (waiting.length > 0 && !finished) connect().catch(() => undefined);
		};
		const connect = () =>
			new Promise<Connection>((connected, failed) => {
				const socket = net.connect({ host: target.hostname, port, noDelay: true });
				const c: Connection = { socket, reader: new ResponseReader(), ready: false };
				open.add(c);
				socket.on("connect", () => {
					c.ready = true;
					connected(c);
					release(c);
				});
				socket.on("data", (chunk: Buffer) => {
					for (let response = c.reader.push(chunk); response; response = c.reader.push(Buffer.alloc(0))) {
						if (c.writtenAt === undefined) return drop(c, "an answer nobody asked for");
						hooks.answered(response.status, performance.now() - c.writtenAt, response.body);
						c.writtenAt = undefined;
						settle();
						if (response.close) return drop(c, "connection closed by the server");
						release(c);
					}
				});
				socket.on("error", (err: Error) => {
					if (c.ready) return drop(c, err.message);
					// Could not connect: the oldest waiting order fails with it (so a server that is
					// gone costs one attempt per order, not a loop), and the run goes on.
					open.delete(c);
					failed(err);
					const request = waiting.shift();
					if (request !== undefined) {
						hooks.failed(err.message);
						settle();
					}
					if (waiting.length > 0 && open.size === 0 && !finished) connect().catch(() => undefined);
				});
				socket.on("close", () => drop(c, "connection closed"));
			});
		/** Sends order number `request` now, or queues it for the first connection to come free. */
		const send = (request: number) => {
			const c = idle.shift();
			if (c) return write(c, request);
			waiting.push(request);
			if (open.size < job.connections) connect().catch(() => undefined);
		};
		const sweeper = setInterval(() => {
			const now = performance.now();
			for (const c of open) if (c.writtenAt !== undefined && now - c.writtenAt > timeoutMs) drop(c, "timeout");
		}, 250);

		let begin = 0;
		const tick = () => {
			const now = performance.now();
			const due = Math.min(total, Math.floor(((now - begin) * job.rate) / 1000) + 1);
			while (sent < due) {
				lags.push(now - (begin + (sent * 1000) / job.rate));
				sent++;
				send(next++ % requests.length);
			}
			if (sent < total) setTimeout(tick, Math.max(0, begin + (sent * 1000) / job.rate - performance.now()));
		};
		if (total === 0) return finish();
		// Enough connections for the orders of ~50 ms, opened before the clock starts.
		const warm = Math.max(1, Math.min(job.connections, Math.ceil(job.rate / 20) + 2));
		Promise.all(Array.from({ length: warm }, connect)).then(
			() => {
				hooks.started();
				begin = performance.now();
				tick();
			},
			(err: Error) => {
				finished = true;
				clearInterval(sweeper);
				for (const c of open) c.socket.destroy();
				reject(err);
			}
		);
	});
}
