/**
 * What is the bench's own on top of the test kit (test/support: throwaway databases and vhosts, the
 * product's processes, shared with the tests and the chaos run): the warn+ log lines of a process,
 * a stop that ends in SIGKILL, and /proc readings of the processes and the machine.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { NodeOptions, NodeProcess } from "../test/support/processes";

export interface BenchProcess extends NodeProcess {
	pid: number;
	/** Messages of the log lines at level warn or worse since the last `resetWarnings()`, with their counts. */
	warnings(): Map<string, number>;
	resetWarnings(): void;
	/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
	shutdown(graceMs?: number): Promise<void>;
}

/** A product node, started by `start` with the given options, whose warn+ log lines are counted by kind. */
export function benchProcess(start: (options: NodeOptions) => NodeProcess): BenchProcess {
	let warnings = new Map<string, number>();
	const node = start({
		onLine: line => {
			if (!/"level":"(warn|error|fatal)"/.test(line)) return;
			let message = line;
			try {
				message = String((JSON.parse(line) as { message?: unknown }).message ?? line);
			} catch {
				/* not a JSON line: keep it whole */
			}
			// Ids and numbers vary from line to line; the kind of message is what counts.
			message = message.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "<id>").replace(/\d+/g, "N").slice(0, 160);
			warnings.set(message, (warnings.get(message) ?? 0) + 1);
		}
	});
	return {
		...node,
		pid: node.child.pid ?? 0,
		warnings: () => warnings,
		resetWarnings() {
			warnings = new Map();
		},
		async shutdown(graceMs = 15_000) {
			const timer = setTimeout(() => void node.stop("SIGKILL"), graceMs);
			await node.stop("SIGTERM");
			clearTimeout(timer);
		}
	};
}

/** Resident set size and its peak (VmHWM) of a process, in MiB. */
export function readMemory(pid: number): { rssMiB: number; peakMiB: number } {
	const status = readFileSync(`/proc/${pid}/status`, "utf8");
	const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
	return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used. */
export function readCpuSeconds(pid: number): number {
	return readProcessTimes(pid).cpuSeconds;
}

/** CPU seconds (user + system) a process has used, and when it started, in seconds since boot. */
export function readProcessTimes(pid: number): { cpuSeconds: number; startedAt: number } {
	const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
	// Fields after the command name, which is in parentheses and may contain spaces.
	const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, startedAt: Number(fields[19]) / CLOCK_TICKS };
}

/** Seconds since boot, the clock of `startedAt` above. */
export function readUptime(): number {
	return Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
}

/** Pids of the processes whose command name (`/proc/<pid>/comm`) is `name`. */
export function findProcesses(name: string): number[] {
	const pids: number[] = [];
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) pids.push(Number(entry));
		} catch {
			/* gone meanwhile */
		}
	}
	return pids;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function readMachineCpu(): { busy: number; total: number } {
	const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
	const values = line.trim().split(/\s+/).slice(1).map(Number);
	const idle = (values[3] ?? 0) + (values[4] ?? 0);
	const total = values.reduce((a, b) => a + b, 0);
	return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}
