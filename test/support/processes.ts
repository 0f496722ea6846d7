/**
 * The product's own processes (`node dist/bin/start.js`), as a deployment runs them, for the e2e
 * tests, the bench and the chaos run. `npm test` builds dist/ first; so do `npm run bench` and
 * `npm run chaos`, which run this file compiled, from dist/test/support/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { LOCAL_JWT_SECRET } from "./services";

/** dist/bin/start.js, seen from this file in the sources (ts-jest) or compiled in dist/test/support/. */
const ENTRY =
	[join(__dirname, "..", "..", "dist", "bin", "start.js"), join(__dirname, "..", "..", "bin", "start.js")].find(existsSync) ??
	join(__dirname, "..", "..", "dist", "bin", "start.js");

export interface NodeProcess {
	name: string;
	child: ChildProcess;
	/** Everything the process printed, for failure messages. */
	output(): string;
	/** Resolves with the exit code when the process ends by itself within `timeoutMs`, else fails with its output. */
	exitWithin(timeoutMs: number): Promise<number | null>;
	/** Sends a signal and resolves with the exit code. */
	stop(signal?: NodeJS.Signals): Promise<number | null>;
	/** True until the process has exited. */
	running(): boolean;
	/** Resolves with the exit code (the signal, if any, is then in `child.signalCode`). */
	exited: Promise<number | null>;
}

export interface NodeOptions {
	/** Another build's start.js: the bench runs an older commit next to this one. */
	entry?: string;
	/** Called with every whole line the process prints (stderr lines flagged), as it prints it. */
	onLine?: (line: string, stderr: boolean) => void;
	/** Keep everything printed for output() (the default); a long run that keeps its own lines turns it off. */
	keepOutput?: boolean;
}

/**
 * Starts one product process with exactly these variables (plus PATH and the local defaults below):
 * nothing leaks in from the caller's environment.
 */
export function startNode(name: string, env: Record<string, string>, options: NodeOptions = {}): NodeProcess {
	const entry = options.entry ?? ENTRY;
	if (!existsSync(entry)) throw new Error(`${entry} is missing: run 'npm run build' first (npm test, npm run bench and npm run chaos do).`);
	const child = spawn(process.execPath, [entry], {
		env: {
			PATH: process.env.PATH ?? "",
			LOG_LEVEL: "info",
			METRICS_PORT: "off",
			RATE_LIMIT_PER_MINUTE: "0",
			JWT_SECRET: LOCAL_JWT_SECRET,
			...env
		},
		stdio: ["ignore", "pipe", "pipe"]
	});
	let output = "";
	const keep = options.keepOutput !== false;
	const listen = (stream: NodeJS.ReadableStream | null, stderr: boolean) => {
		let partial = "";
		stream?.setEncoding("utf8");
		stream?.on("data", (chunk: string) => {
			if (keep) output += chunk;
			if (!options.onLine) return;
			const lines = (partial + chunk).split("\n");
			partial = lines.pop() ?? "";
			for (const line of lines) options.onLine(line, stderr);
		});
		stream?.on("end", () => {
			if (partial) options.onLine?.(partial, stderr);
			partial = "";
		});
	};
	listen(child.stdout, false);
	listen(child.stderr, true);
	const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
	const running = () => child.exitCode === null && child.signalCode === null;
	return {
		name,
		child,
		output: () => output,
		exited,
		running,
		exitWithin(timeoutMs: number) {
			let timer: NodeJS.Timeout | undefined;
			const timeout = new Promise<never>((_, reject) => {
				timer = setTimeout(
					() => reject(new Error(`${name} did not exit within ${timeoutMs} ms\n--- ${name} output ---\n${output.split("\n").slice(-80).join("\n")}`)),
					timeoutMs
				);
			});
			return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
		},
		async stop(signal: NodeJS.Signals = "SIGTERM") {
			if (!running()) return child.exitCode;
			child.kill(signal);
			return exited;
		}
	};
}
