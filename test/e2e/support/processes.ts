/**
 * Runs product nodes as real OS processes (`node dist/bin/start.js`), the way a deployment does.
 * `npm test` builds dist/ first.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const ENTRY = join(__dirname, "..", "..", "..", "dist", "bin", "start.js");

export interface NodeProcess {
	name: string;
	child: ChildProcess;
	/** Everything the process printed, for failure messages. */
	output(): string;
	/** Sends a signal and resolves with the exit code. */
	stop(signal?: NodeJS.Signals): Promise<number | null>;
	exited: Promise<number | null>;
}

export function startNode(name: string, env: Record<string, string>): NodeProcess {
	if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run 'npm run build' first (npm test does).`);
	const child = spawn(process.execPath, [ENTRY], {
		env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", METRICS_PORT: "off", RATE_LIMIT_PER_MINUTE: "0", ...env },
		stdio: ["ignore", "pipe", "pipe"]
	});
	let output = "";
	child.stdout?.on("data", chunk => (output += chunk));
	child.stderr?.on("data", chunk => (output += chunk));
	const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
	return {
		name,
		child,
		output: () => output,
		exited,
		async stop(signal: NodeJS.Signals = "SIGTERM") {
			if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
			child.kill(signal);
			return exited;
		}
	};
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}
