/**
 * An exclusive lock on a data folder between the processes of one machine: a file in the folder,
 * created exclusively, holding the holder's pid. PGlite takes no lock of its own, and two processes
 * on one folder each see only their own writes and overwrite each other's at the end.
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, constants, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { StartupError } from "../startup-error";

/** The lock file's name inside the folder it locks. */
export const LOCK_FILE_NAME = "pglite.lock";

/** Who holds a lock, as written in its file. */
export interface LockHolder {
	pid: number;
	hostname: string;
	/** ISO time the lock was taken. */
	since: string;
}

/** A lock this process holds; `release()` removes its file (idempotent). */
export interface DataDirLock {
	file: string;
	release(): void;
}

export interface LockLogger {
	warn(message: string): void;
}

/** Lock files held by this process: a second open of the same folder in-process is refused too. */
const heldHere = new Set<string>();

/** Attempts before giving up on a folder whose lock keeps changing hands under us. */
const MAX_ATTEMPTS = 5;
/** How long a lock file may stay empty (its creator writing it) before it counts as abandoned. */
const EMPTY_LOCK_GRACE_MS = 500;

/**
 * Takes the lock on `dir` (an absolute path), or fails with a {@link StartupError} naming the
 * process that holds it. A lock left by a process that no longer runs is taken over, with a warning.
 */
export async function lockDataDir(dir: string, logger?: LockLogger): Promise<DataDirLock> {
	const file = join(dir, LOCK_FILE_NAME);
	if (heldHere.has(file)) {
		throw new StartupError(
			`The data folder '${dir}' is already open in this process (pid ${process.pid}): give each embedded database a folder of its own.`
		);
	}
	const content = JSON.stringify({ pid: process.pid, hostname: hostname(), since: new Date().toISOString() } satisfies LockHolder);

	for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		if (createExclusively(file, content)) return holding(file, content);
		const seen = await readSettled(file);
		if (seen === undefined) continue; // released in between: try again
		const holder = parseHolder(seen);
		if (holder && isRunning(holder.pid)) throw new StartupError(foldersInUse([{ dir, holder }]));
		if (removeIfUnchanged(file, seen)) {
			logger?.warn(
				holder
					? `Took over the lock on the data folder '${dir}' from process ${holder.pid}, which no longer runs (it did not stop cleanly).`
					: `Took over the unreadable lock file ${file}.`
			);
		}
	}
	throw new StartupError(`Could not lock the data folder '${dir}': other processes keep taking and leaving ${file}.`);
}

/** A data folder whose lock a running process holds. */
export interface HeldFolder {
	dir: string;
	holder: LockHolder;
}

/**
 * Fails with one {@link StartupError} naming every folder of `dirs` (absolute paths) that a running
 * process holds, before any is opened: a node on a DATA_DIR already in use then says so once, for
 * both of its databases, instead of once per service that failed to start. Takes no lock:
 * {@link lockDataDir} still decides.
 */
export function checkDataDirsFree(dirs: string[]): void {
	const held: HeldFolder[] = [];
	for (const dir of dirs) {
		const holder = runningHolder(join(dir, LOCK_FILE_NAME));
		if (holder) held.push({ dir, holder });
	}
	if (held.length > 0) throw new StartupError(foldersInUse(held));
}

/** The running process that holds the lock file, if any; a lock left by a process that died does not count. */
function runningHolder(file: string): LockHolder | undefined {
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch {
		return undefined;
	}
	const holder = parseHolder(text);
	return holder && isRunning(holder.pid) ? holder : undefined;
}

/** One message for the folders other processes hold: which, by whom, and what to do. */
export function foldersInUse(held: HeldFolder[]): string {
	const byHolder = new Map<number, HeldFolder[]>();
	for (const folder of held) byHolder.set(folder.holder.pid, [...(byHolder.get(folder.holder.pid) ?? []), folder]);
	const parts = [...byHolder.values()].map((folders, i) => {
		const { pid, hostname: host, since } = folders[0].holder;
		const names = folders.map(f => `'${f.dir}'`).join(" and ");
		const subject = folders.length > 1 ? `data folders ${names} are` : `data folder ${names} is`;
		return `${i === 0 ? "The" : "the"} ${subject} in use by another process (pid ${pid} on ${host}, since ${since})`;
	});
	const files = held.map(f => join(f.dir, LOCK_FILE_NAME)).join(" and ");
	return (
		`${parts.join("; ")}: stop ${byHolder.size > 1 ? "those processes" : "that process"}, or start this one with another DATA_DIR. ` +
		`(If no such process runs, delete ${files}.)`
	);
}

/** True when a process with this pid runs on this machine (and is not this process). */
export function isRunning(pid: number): boolean {
	// A lock with our own pid that we do not hold was left by an earlier process that had the same
	// pid: in a container, the node is often pid 1 at every start.
	if (pid === process.pid) return false;
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		// EPERM: it runs, under another user.
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

function holding(file: string, content: string): DataDirLock {
	heldHere.add(file);
	const releaseAtExit = () => removeIfUnchanged(file, content);
	// A node that exits without stopping its broker still leaves no lock behind.
	process.once("exit", releaseAtExit);
	return {
		file,
		release() {
			if (!heldHere.delete(file)) return;
			process.removeListener("exit", releaseAtExit);
			try {
				if (readFileSync(file, "utf8") === content) unlinkSync(file);
			} catch {
				/* already gone */
			}
		}
	};
}

/** Creates the lock file with `content`, or answers false when it exists. */
function createExclusively(file: string, content: string): boolean {
	try {
		writeFileSync(file, content, { flag: "wx" });
		return true;
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
		throw new StartupError(`Cannot create the lock file ${file}: ${(err as Error).message}. Set DATA_DIR to a writable folder.`);
	}
}

/**
 * The lock file's content, once its creator has written it; undefined when the file is gone. An
 * empty file is re-read for a moment: its creator may be between creating and writing it.
 */
async function readSettled(file: string): Promise<string | undefined> {
	const deadline = Date.now() + EMPTY_LOCK_GRACE_MS;
	for (;;) {
		let text: string;
		try {
			text = readFileSync(file, "utf8");
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
			throw err;
		}
		if (text !== "" || Date.now() > deadline) return text;
		await new Promise(resolve => setTimeout(resolve, 20));
	}
}

function parseHolder(text: string): LockHolder | undefined {
	try {
		const value = JSON.parse(text) as Partial<LockHolder>;
		return Number.isInteger(value.pid) && (value.pid as number) > 0 ? (value as LockHolder) : undefined;
	} catch {
		return undefined;
	}
}

/**
 * Removes the lock file if it still holds `expected`. It is moved aside first (a rename is atomic):
 * if what was moved is a lock another process took in the meantime, it is put back.
 */
function removeIfUnchanged(file: string, expected: string): boolean {
	const aside = `${file}.${process.pid}-${randomBytes(4).toString("hex")}`;
	try {
		renameSync(file, aside);
	} catch {
		return false; // gone already
	}
	try {
		if (readFileSync(aside, "utf8") === expected) return true;
		try {
			copyFileSync(aside, file, constants.COPYFILE_EXCL);
		} catch {
			/* a third process has taken the lock since: it is the holder now */
		}
		return false;
	} finally {
		unlinkSync(aside);
	}
}
