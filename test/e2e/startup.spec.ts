/**
 * Starting and stopping a node as an operator does: a bad variable stops the start with one clear
 * line, and `npm start` passes SIGTERM on to the node it runs.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode } from "../support/processes";
import { freePort, waitFor } from "../support/services";

describe("Starting a node", () => {
	it.each([
		[{ LOG_LEVEL: "verbose" }, "LOG_LEVEL='verbose' is not valid: expected one of fatal, error, warn, info, debug, trace."],
		[{ ORDERS_DATABASE_URL: "mysql://root:secret@db/orders" }, "ORDERS_DATABASE_URL='mysql://root:***@db/orders' is not valid"],
		[{ SERVICES: "api,billing" }, "SERVICES='api,billing' is not valid"]
	])("should stop on %j with exit code 1 and one line naming the variable", async (env, message) => {
		const node = startNode("bad-config", env as Record<string, string>);
		expect(await node.exitWithin(30_000)).toBe(1);

		const lines = node.output().trim().split("\n");
		expect(lines).toHaveLength(1);
		const line = JSON.parse(lines[0]) as { level: string; message: string };
		expect(line.level).toBe("fatal");
		expect(line.message).toContain(message);
		expect(line.message).not.toContain("secret");
		expect(line.message).not.toMatch(/\n\s+at /);
	});

	it("should log where the API and its docs page are on every start of an api node, JWT_SECRET set or not", async () => {
		const port = await freePort();
		const node = startNode("api-url", { SERVICES: "api", PORT: String(port), HOST: "0.0.0.0" });
		try {
			const line = `API: http://127.0.0.1:${port}/api — docs: http://127.0.0.1:${port}/api/docs`;
			await waitFor("the API line", async () => node.output().includes(line), 60_000, 100).catch(err => {
				throw new Error(`${err.message}\n${node.output()}`);
			});
			expect(node.output()).not.toContain("No JWT_SECRET is set");
			const index = await fetch(`http://127.0.0.1:${port}/api`);
			expect(index.status).toBe(200);
			expect(((await index.json()) as { docs: string }).docs).toBe("/api/docs");
		} finally {
			await node.stop();
		}
	});

	it("should print a customer and an admin token on a first `npm start` without JWT_SECRET, which work, and stop on SIGTERM", async () => {
		const dataDir = mkdtempSync(join(tmpdir(), "order-pipeline-npm-"));
		const port = await freePort();
		// --ignore-scripts skips the prestart build: npm test has built dist/ already.
		const npm = spawn("npm", ["start", "--ignore-scripts", "--silent"], {
			env: { ...process.env, PORT: String(port), METRICS_PORT: "off", DATA_DIR: dataDir, LOG_LEVEL: "warn", TRANSPORTER: "", SERVICES: "", JWT_SECRET: "", JWT_JWKS_URL: "" },
			stdio: ["ignore", "pipe", "pipe"]
		});
		let output = "";
		npm.stdout.on("data", chunk => (output += chunk));
		npm.stderr.on("data", chunk => (output += chunk));
		const exited = new Promise<number | null>(resolve => npm.once("exit", code => resolve(code)));
		const answers = async () => (await fetch(`http://127.0.0.1:${port}/api/health/live`).catch(() => null))?.status === 200;
		try {
			await waitFor("the node started by npm to answer", answers, 90_000, 200).catch(err => {
				throw new Error(`${err.message}\n${output}`);
			});
			await waitFor("the first-run tokens", async () => output.includes("Try:"), 10_000, 50);
			const customer = /customer \(sub customer-1\): (eyJ[\w-]+\.[\w-]+\.[\w-]+)/.exec(output)?.[1];
			const admin = /admin +\(sub admin\): +(eyJ[\w-]+\.[\w-]+\.[\w-]+)/.exec(output)?.[1];
			expect(customer).toBeDefined();
			expect(admin).toBeDefined();
			expect(output).toContain(`curl -H 'Authorization: Bearer ${customer}'`);
			expect(output).toContain(`API: http://127.0.0.1:${port}/api — docs: http://127.0.0.1:${port}/api/docs`);
			const call = (path: string, token?: string, body?: object) =>
				fetch(`http://127.0.0.1:${port}${path}`, {
					method: body ? "POST" : "GET",
					headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
					body: body ? JSON.stringify(body) : undefined
				});
			const created = await call("/api/orders", customer, { items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 9.99 }], currency: "EUR" });
			expect(created.status).toBe(201);
			expect(((await created.json()) as { customerId: string }).customerId).toBe("customer-1");
			expect((await call("/api/admin/stock/SKU-0001", customer)).status).toBe(403);
			expect((await call("/api/admin/stock/SKU-0001", admin)).status).toBe(200);
			expect((await call("/api/orders")).status).toBe(401);

			npm.kill("SIGTERM");
			await exited;
			await waitFor("the node to stop serving", async () => !(await answers()), 20_000, 100);
		} finally {
			npm.kill("SIGKILL");
			rmSync(dataDir, { recursive: true, force: true });
		}
	});
});
