/**
 * The bench's paced load generator (bench/paced-client.ts) speaks HTTP/1.1 itself: these tests run it
 * against small servers on the loopback interface and check that every order is sent once, with its
 * body and headers, and that every answer is read whole, whatever shape it comes in. No timing is
 * asserted: the bench measures speed, the tests only what was sent and read.
 */
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { runPaced, type PacedJob } from "../../../bench/paced-client";

interface Seen {
	bodies: string[];
	headers: http.IncomingHttpHeaders[];
}

async function listen(server: net.Server): Promise<string> {
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: net.Server): Promise<void> {
	if ("closeAllConnections" in server) (server as http.Server).closeAllConnections();
	await new Promise<void>(resolve => server.close(() => resolve()));
}

/** An HTTP server that records each request and answers it with `answer`. */
function recordingServer(answer: (req: http.IncomingMessage, body: string, res: http.ServerResponse, n: number) => void) {
	const seen: Seen = { bodies: [], headers: [] };
	const server = http.createServer((req, res) => {
		let body = "";
		req.on("data", (c: Buffer) => (body += c.toString()));
		req.on("end", () => {
			seen.bodies.push(body);
			seen.headers.push(req.headers);
			answer(req, body, res, seen.bodies.length);
		});
	});
	return { server, seen };
}

/** Runs the pacer and collects what its hooks were told. */
async function pace(job: PacedJob) {
	const answers: { status: number; body: string }[] = [];
	const failures: string[] = [];
	let started = 0;
	const result = await runPaced(job, {
		started: () => started++,
		answered: (status, ms, body) => {
			expect(ms).toBeGreaterThanOrEqual(0);
			answers.push({ status, body: body.toString() });
		},
		failed: message => failures.push(message)
	});
	return { answers, failures, started, result };
}

const bodies = ['{"n":1}', '{"n":2}', '{"n":"three, with ünïcode"}'];

describe("bench paced client", () => {
	it("sends rate × seconds orders, the bodies in turn with their headers, and reads every answer", async () => {
		const { server, seen } = recordingServer((_req, body, res) => {
			res.writeHead(201, { "content-type": "application/json" });
			res.end(JSON.stringify({ echo: body }));
		});
		const url = await listen(server);
		try {
			const { answers, failures, started, result } = await pace({ url, authorization: "Bearer t0k", bodies, rate: 400, seconds: 0.2, connections: 8 });
			expect(started).toBe(1);
			expect(failures).toEqual([]);
			expect(answers).toHaveLength(80);
			expect(answers.every(a => a.status === 201)).toBe(true);
			// Each answer echoes the body its request carried: requests and answers were not mixed up.
			expect(new Set(answers.map(a => JSON.parse(a.body).echo))).toEqual(new Set(bodies));
			expect(seen.bodies).toHaveLength(80);
			// The bodies in turn: each as often as the others, within one (the arrival order across
			// eight connections is the machine's, not the pacer's).
			const uses = bodies.map(body => seen.bodies.filter(seenBody => seenBody === body).length);
			expect(Math.max(...uses) - Math.min(...uses)).toBeLessThanOrEqual(1);
			expect(seen.headers[0]).toMatchObject({ authorization: "Bearer t0k", "content-type": "application/json" });
			expect(result.sendLagMs.max).toBeGreaterThanOrEqual(0);
		} finally {
			await close(server);
		}
	});

	it("reads chunked answers and other statuses, and reconnects when the server closes connections", async () => {
		const { server } = recordingServer((_req, _body, res, n) => {
			if (n % 3 === 0) {
				res.writeHead(503, { "content-type": "application/json", connection: "close" });
				res.end('{"title":"Service busy"}');
				return;
			}
			res.writeHead(201, { "content-type": "application/json" }); // no length: chunked
			res.write('{"part":');
			res.end('"two"}');
		});
		const url = await listen(server);
		try {
			const { answers, failures } = await pace({ url, authorization: "", bodies, rate: 300, seconds: 0.2, connections: 4 });
			expect(failures).toEqual([]);
			expect(answers).toHaveLength(60);
			expect(answers.filter(a => a.status === 503)).toHaveLength(20);
			expect(answers.filter(a => a.status === 503).every(a => a.body === '{"title":"Service busy"}')).toBe(true);
			expect(answers.filter(a => a.status === 201).every(a => a.body === '{"part":"two"}')).toBe(true);
		} finally {
			await close(server);
		}
	});

	it("reads an answer that arrives a few bytes at a time", async () => {
		const answer = Buffer.from('HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"x1"}');
		const server = net.createServer(socket => {
			let pending = "";
			socket.on("data", (c: Buffer) => {
				pending += c.toString("latin1");
				// One answer per whole request seen (head and a body of the stated length).
				for (;;) {
					const headEnd = pending.indexOf("\r\n\r\n");
					const length = /content-length: (\d+)/i.exec(pending);
					if (headEnd < 0 || !length || pending.length < headEnd + 4 + Number(length[1])) return;
					pending = pending.slice(headEnd + 4 + Number(length[1]));
					let at = 0;
					const drip = () => {
						if (socket.destroyed) return;
						socket.write(answer.subarray(at, at + 7));
						at += 7;
						if (at < answer.length) setImmediate(drip);
					};
					drip();
				}
			});
		});
		const url = await listen(server);
		try {
			const { answers, failures } = await pace({ url, authorization: "", bodies, rate: 100, seconds: 0.2, connections: 4 });
			expect(failures).toEqual([]);
			expect(answers).toEqual(Array.from({ length: 20 }, () => ({ status: 201, body: '{"id":"x1"}' })));
		} finally {
			await close(server);
		}
	});

	it("fails an order whose answer does not come in time, and goes on with the others", async () => {
		const { server } = recordingServer((_req, _body, res, n) => {
			if (n === 2) return; // never answered
			res.writeHead(201, { "content-length": "2" });
			res.end("{}");
		});
		const url = await listen(server);
		try {
			const { answers, failures } = await pace({ url, authorization: "", bodies, rate: 50, seconds: 0.2, connections: 4, timeoutMs: 300 });
			expect(failures).toEqual(["timeout"]);
			expect(answers).toHaveLength(9);
		} finally {
			await close(server);
		}
	});

	it("rejects when nothing listens at the address", async () => {
		const server = net.createServer();
		const url = await listen(server);
		await close(server);
		await expect(pace({ url, authorization: "", bodies, rate: 10, seconds: 1, connections: 2 })).rejects.toThrow(/ECONNREFUSED/);
	});
});
