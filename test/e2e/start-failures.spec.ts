/**
 * A node that cannot work as configured stops at once with one line saying why, instead of starting
 * anyway or retrying for ever: the product's own process (`node dist/bin/start.js`), as an operator
 * runs it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOCK_FILE_NAME } from "../../lib/database/data-dir-lock";
import { startNode, type NodeProcess } from "../support/processes";
import { ADMIN_DATABASE_URL, freePort, waitFor } from "../support/services";

interface OrdersNode extends NodeProcess {
	stderr(): string;
}

/** A node with the orders service only (unless `env` names others): one process, no transporter; its stderr kept apart. */
function startOrdersNode(name: string, env: Record<string, string>): OrdersNode {
	const node = startNode(name, { SERVICES: "orders", ...env });
	let stderr = "";
	node.child.stderr?.on("data", chunk => (stderr += chunk));
	return Object.assign(node, { stderr: () => stderr });
}

const started = (node: NodeProcess) =>
	waitFor(`${node.name} to start`, () => node.output().includes("Node started with services: orders."), 60_000);

/**
 * The one fatal line a failed start prints on stderr, parsed; no stack trace anywhere. (Moleculer
 * logs its own "Unable to start all services." before it, at error level.)
 */
function fatalLine(node: OrdersNode): { level: string; message: string } {
	const records = node
		.stderr()
		.trim()
		.split("\n")
		.map(line => JSON.parse(line) as { level: string; message: string });
	expect(records.filter(r => r.level === "fatal")).toHaveLength(1);
	expect(node.output()).not.toMatch(/\n\s+at /);
	return records[records.length - 1];
}

describe("Starting the product with a setting that cannot work", () => {
	describe("When two nodes are started on one DATA_DIR", () => {
		const dataDir = mkdtempSync(join(tmpdir(), "two-nodes-"));
		const nodes: OrdersNode[] = [];
		const start = (name: string) => {
			const node = startOrdersNode(name, { DATA_DIR: dataDir });
			nodes.push(node);
			return node;
		};
		afterAll(async () => {
			await Promise.all(nodes.map(n => n.stop("SIGKILL")));
			rmSync(dataDir, { recursive: true, force: true });
		});

		it("should stop the second at once, naming the folder and the first one's pid once, and start it once the first has stopped", async () => {
			const first = start("first");
			await started(first);

			const second = start("second");
			expect(await second.exitWithin(30_000)).toBe(1);
			const fatal = fatalLine(second);
			expect(fatal.level).toBe("fatal");
			expect(fatal.message).toContain(`The data folder '${join(dataDir, "orders")}' is in use by another process (pid ${first.child.pid}`);
			expect(fatal.message).toContain("stop that process, or start this one with another DATA_DIR");
			expect(second.output().split("in use by another process")).toHaveLength(2);

			expect(await first.stop("SIGTERM")).toBe(0);
			expect(existsSync(join(dataDir, "orders", LOCK_FILE_NAME))).toBe(false);
			const third = start("third");
			await started(third);
			expect(await third.stop("SIGTERM")).toBe(0);
		});
	});

	describe("When a node of both services is started on the DATA_DIR another one runs on", () => {
		const dataDir = mkdtempSync(join(tmpdir(), "two-nodes-both-"));
		const nodes: OrdersNode[] = [];
		afterAll(async () => {
			await Promise.all(nodes.map(n => n.stop("SIGKILL")));
			rmSync(dataDir, { recursive: true, force: true });
		});

		it("should say so in one line that names both folders held", async () => {
			const env = { SERVICES: "orders,processor", DATA_DIR: dataDir };
			const first = startOrdersNode("first", env);
			nodes.push(first);
			await waitFor("first to start", () => first.output().includes("Node started with services: orders, processor."), 90_000);

			const second = startOrdersNode("second", env);
			nodes.push(second);
			expect(await second.exitWithin(30_000)).toBe(1);
			const fatal = fatalLine(second);
			const named = `The data folders '${join(dataDir, "orders")}' and '${join(dataDir, "processor")}' are in use by another process (pid ${first.child.pid} on `;
			expect(fatal.message.slice(0, named.length)).toBe(named);
			expect(fatal.message).toContain("stop that process, or start this one with another DATA_DIR");
			// Said once: not also in an error line of Moleculer's before it.
			expect(second.output().split("in use by another process")).toHaveLength(2);
		});
	});

	describe("When a port the node listens on is taken by another process", () => {
		let taken: Server;
		let port: number;
		beforeEach(async () => {
			port = await freePort();
			taken = createServer();
			await new Promise<void>(resolve => taken.listen(port, "127.0.0.1", resolve));
		});
		afterEach(async () => {
			await new Promise(resolve => taken.close(resolve));
		});

		it("should stop a node whose METRICS_PORT is taken with one line naming the port, the variable and the way out", async () => {
			const node = startOrdersNode("metrics-port-taken", { SERVICES: "api", PORT: "0", METRICS_PORT: String(port) });

			expect(await node.exitWithin(30_000)).toBe(1);
			const fatal = fatalLine(node);
			expect(fatal.message).toBe(
				`METRICS_PORT=${port} is in use: another process listens on 127.0.0.1:${port}. ` +
					"Stop that process, or start this node with METRICS_PORT=<a free port>, or METRICS_PORT=off to serve no metrics and probes."
			);
			expect(node.output()).not.toContain("Unhandled 'error' event");
		});

		it("should stop an api node whose PORT is taken with one line naming the port, the variable and the way out", async () => {
			const node = startOrdersNode("api-port-taken", { SERVICES: "api", HOST: "127.0.0.1", PORT: String(port) });

			expect(await node.exitWithin(30_000)).toBe(1);
			expect(fatalLine(node).message).toBe(
				`PORT=${port} is in use: another process listens on 127.0.0.1:${port}. Stop that process, or start this node with PORT=<a free port>.`
			);
		});
	});

	describe("When the first start is interrupted while it creates its database", () => {
		const dataDirs: string[] = [];
		afterAll(() => {
			for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
		});

		it.each([
			["SIGINT", 130],
			["SIGTERM", 143]
		] as const)("should print only 'Start interrupted.' on %s and exit %i, leaving no process behind", async (signal, code) => {
			const dataDir = mkdtempSync(join(tmpdir(), "interrupted-"));
			dataDirs.push(dataDir);
			const node = startOrdersNode(`interrupted-${signal}`, { DATA_DIR: dataDir });
			// The lock is taken just before the embedded database is created in a child process.
			await waitFor("the orders folder's lock", () => existsSync(join(dataDir, "orders", LOCK_FILE_NAME)), 30_000, 20);

			await node.stop(signal);
			expect(await node.exited).toBe(code);
			const lines = node.stderr().trim().split("\n");
			expect(lines).toHaveLength(1);
			expect(JSON.parse(lines[0])).toMatchObject({ logger: "start", message: "Start interrupted." });
			expect(node.output()).not.toContain("could not create its database");
			// The child creating the database is gone too: nothing writes into the folder any more.
			await waitFor("no process naming the data folder", () => !execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).includes(dataDir), 5000);
		});
	});

	describe("When the database server refuses the node's login", () => {
		it("should exit 1 within seconds, printing one fatal line that names the database and the reason, not the password", async () => {
			const url = new URL(ADMIN_DATABASE_URL);
			url.username = "nosuchuser";
			url.password = "hunter2";
			const node = startOrdersNode("refused", { ORDERS_DATABASE_URL: url.toString() });

			expect(await node.exitWithin(15_000)).toBe(1);
			const fatal = fatalLine(node);
			expect(fatal.level).toBe("fatal");
			expect(fatal.message).toContain(`cannot use its database ${url.hostname}:${url.port || 5432}${url.pathname} as 'nosuchuser'`);
			expect(fatal.message).toContain('role "nosuchuser" does not exist (28000)');
			expect(node.output()).not.toContain("hunter2");
		});
	});
});
