/**
 * The chaos run's view of the kit's cluster (test/support/cluster.ts): one process per role,
 * started, killed and restarted by the chaos script. Each role keeps the tail of its output (all
 * incarnations) for the report, and every line in a bounded archive so the report can show the
 * lines naming an order; exits nobody asked for are counted, and a supervisor may restart them.
 */
import type { ChildProcess } from "node:child_process";
import type { ProductCluster } from "../../test/support/cluster";
import { sleep, uniqueSuffix } from "../../test/support/services";
import { log } from "./util";

export const ROLES = ["api", "orders", "processor"] as const;
export type Role = (typeof ROLES)[number];

const TAIL_LINES = 200;
const ARCHIVE_LINES = 200_000;

export interface Exit {
	code: number | null;
	signal: NodeJS.Signals | null;
}

export interface NodeHandle {
	role: Role;
	nodeID: string;
	child: ChildProcess;
	startedAt: number;
	exited: Promise<Exit>;
	/** True once the script itself asked the process to stop. */
	stopRequested: boolean;
	running(): boolean;
}

export interface UnexpectedExit {
	role: Role;
	nodeID: string;
	exit: Exit;
	at: string;
}

export interface Cluster {
	start(role: Role): NodeHandle;
	current(role: Role): NodeHandle | undefined;
	/** Sends a signal to the role's current process and waits for its exit (SIGKILL after graceMs). */
	stop(role: Role, signal: NodeJS.Signals, graceMs?: number): Promise<Exit | null>;
	/** Starts every role whose process is not running; returns the roles it started. */
	ensureRunning(): Role[];
	/** When on, a process that exits on its own is restarted after a second (like a container runtime). */
	setSupervised(on: boolean): void;
	tail(role: Role): string[];
	/** Archived lines (all roles) that contain the text. */
	grep(text: string): string[];
	unexpectedExits: UnexpectedExit[];
	starts: Record<Role, number>;
	stopAll(): Promise<void>;
	/** Synchronous last resort (process 'exit' handler): SIGKILL whatever still runs. */
	killAllNow(): void;
}

export function createCluster(product: ProductCluster): Cluster {
	const current = new Map<Role, NodeHandle>();
	const all: NodeHandle[] = [];
	const tails: Record<Role, string[]> = { api: [], orders: [], processor: [] };
	const archive: string[] = [];
	const unexpectedExits: UnexpectedExit[] = [];
	const starts: Record<Role, number> = { api: 0, orders: 0, processor: 0 };
	let supervised = false;
	// Once shutting down, nothing starts again (a chaos action may still be sleeping before a restart).
	let closed = false;

	const record = (role: Role, line: string) => {
		const tail = tails[role];
		tail.push(line);
		if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
		archive.push(line);
		if (archive.length > ARCHIVE_LINES) archive.splice(0, archive.length - ARCHIVE_LINES);
	};

	const start = (role: Role): NodeHandle => {
		if (closed) throw new Error(`not starting ${role}: the cluster is shutting down`);
		const nodeID = `${role}-${uniqueSuffix()}`;
		const node = product.startNode(
			role,
			{ SERVICES: role, NODEID: nodeID },
			{
				keepOutput: false,
				onLine: (line, stderr) => {
					if (line.trim()) record(role, `${nodeID}${stderr ? " (stderr)" : ""} | ${line}`);
				}
			}
		);
		const child = node.child;
		starts[role]++;
		const handle: NodeHandle = {
			role,
			nodeID,
			child,
			startedAt: Date.now(),
			stopRequested: false,
			exited: node.exited.then(code => ({ code, signal: child.signalCode })),
			running: node.running
		};
		record(role, `=== ${nodeID} started (pid ${child.pid}) at ${new Date().toISOString()} ===`);
		void handle.exited.then(exit => {
			record(role, `=== ${nodeID} exited (code ${exit.code}, signal ${exit.signal}) at ${new Date().toISOString()} ===`);
			if (handle.stopRequested) return;
			unexpectedExits.push({ role, nodeID, exit, at: new Date().toISOString() });
			log(`!! ${nodeID} exited on its own (code ${exit.code}, signal ${exit.signal})`);
			if (supervised && current.get(role) === handle) {
				void sleep(1000).then(() => {
					if (supervised && current.get(role) === handle) {
						const next = start(role);
						log(`   supervisor restarted ${role} as ${next.nodeID}`);
					}
				});
			}
		});
		current.set(role, handle);
		all.push(handle);
		return handle;
	};

	const stopHandle = async (handle: NodeHandle, signal: NodeJS.Signals, graceMs: number): Promise<Exit | null> => {
		if (!handle.running()) return null;
		handle.stopRequested = true;
		handle.child.kill(signal);
		if (signal === "SIGKILL") return handle.exited;
		const timer = sleep(graceMs).then(() => "timeout" as const);
		const outcome = await Promise.race([handle.exited, timer]);
		if (outcome === "timeout") {
			log(`   ${handle.nodeID} did not stop within ${graceMs} ms after ${signal}: SIGKILL`);
			handle.child.kill("SIGKILL");
			return handle.exited;
		}
		return outcome;
	};

	return {
		start,
		current: role => current.get(role),
		stop: async (role, signal, graceMs = 20_000) => {
			const handle = current.get(role);
			return handle ? stopHandle(handle, signal, graceMs) : null;
		},
		ensureRunning: () => {
			const started: Role[] = [];
			for (const role of ROLES) {
				if (!current.get(role)?.running()) {
					start(role);
					started.push(role);
				}
			}
			return started;
		},
		setSupervised: on => {
			supervised = on;
		},
		tail: role => [...tails[role]],
		grep: text => archive.filter(line => line.includes(text)),
		unexpectedExits,
		starts,
		stopAll: async () => {
			supervised = false;
			closed = true;
			await Promise.all(all.map(handle => stopHandle(handle, "SIGKILL", 0)));
		},
		killAllNow: () => {
			supervised = false;
			closed = true;
			for (const handle of all) {
				if (handle.running()) {
					handle.stopRequested = true;
					try {
						handle.child.kill("SIGKILL");
					} catch {
						/* already gone */
					}
				}
			}
		}
	};
}
