/**
 * The lock on an embedded database's folder: one process at a time, a lock left by a dead process
 * taken over, and the lock gone after a clean stop. Another live process is played by a spawned
 * `node`; the product's own processes racing for one DATA_DIR are in test/e2e/start-failures.spec.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { LOCK_FILE_NAME, lockDataDir, type DataDirLock } from "../../../../lib/database/data-dir-lock";
import { startEmbeddedPostgres } from "../../../../lib/database/embedded-postgres";
import { StartupError } from "../../../../lib/startup-error";

/** A lock file as another process would have written it. */
const writeLockOf = (dir: string, pid: number) =>
	writeFileSync(join(dir, LOCK_FILE_NAME), JSON.stringify({ pid, hostname: hostname(), since: "2020-01-01T00:00:00.000Z" }));
const lockFileOf = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), "utf8")) as { pid: number };

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
	const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
	await new Promise(resolve => child.once("exit", resolve));
	return child.pid!;
}

describe("Test 'lockDataDir'", () => {
	let dir: string;
	let lock: DataDirLock | undefined;
	const warnings: string[] = [];
	const logger = { warn: (message: string) => warnings.push(message) };

	beforeEach(() => {
		dir = mkdtempSync(join(tmpdir(), "data-dir-lock-"));
		warnings.length = 0;
	});
	afterEach(() => {
		lock?.release();
		lock = undefined;
		rmSync(dir, { recursive: true, force: true });
	});

	it("should write this process's pid in the lock file and remove the file on release", async () => {
		lock = await lockDataDir(dir, logger);

		expect(lockFileOf(dir).pid).toBe(process.pid);
		lock.release();
		expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
		expect(warnings).toEqual([]);
	});

	describe("When another live process holds the folder", () => {
		let other: ChildProcess;
		beforeEach(async () => {
			other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
			await new Promise(resolve => other.once("spawn", resolve));
		});
		afterEach(() => {
			other.kill();
		});

		it("should refuse with a message naming the folder, the holder's pid and what to do", async () => {
			writeLockOf(dir, other.pid!);

			const refusal = lockDataDir(dir, logger);

			await expect(refusal).rejects.toBeInstanceOf(StartupError);
			await expect(refusal).rejects.toThrow(`The data folder '${dir}' is in use by another process (pid ${other.pid}`);
			await expect(refusal).rejects.toThrow(/stop that process, or start this one with another DATA_DIR/);
			expect(lockFileOf(dir).pid).toBe(other.pid);
		});
	});

	describe("When the holder died without releasing the lock", () => {
		it("should take the lock over and warn, naming the dead process", async () => {
			const pid = await deadPid();
			writeLockOf(dir, pid);

			lock = await lockDataDir(dir, logger);

			expect(lockFileOf(dir).pid).toBe(process.pid);
			expect(warnings).toEqual([`Took over the lock on the data folder '${dir}' from process ${pid}, which no longer runs (it did not stop cleanly).`]);
		});

		it("should take over a lock with this process's own pid that this process does not hold (a container's pid 1 again)", async () => {
			writeLockOf(dir, process.pid);

			lock = await lockDataDir(dir, logger);

			expect(warnings).toHaveLength(1);
			expect(lock.file).toBe(join(dir, LOCK_FILE_NAME));
		});

		it("should take over a lock file that holds no pid", async () => {
			writeFileSync(join(dir, LOCK_FILE_NAME), "garbage");

			lock = await lockDataDir(dir, logger);

			expect(lockFileOf(dir).pid).toBe(process.pid);
			expect(warnings).toEqual([`Took over the unreadable lock file ${join(dir, LOCK_FILE_NAME)}.`]);
		});
	});

	describe("When this process opens the same folder twice", () => {
		it("should refuse the second open and keep the first lock", async () => {
			lock = await lockDataDir(dir, logger);

			await expect(lockDataDir(dir, logger)).rejects.toThrow(`The data folder '${dir}' is already open in this process (pid ${process.pid})`);
			expect(lockFileOf(dir).pid).toBe(process.pid);
		});
	});
});

describe("Test 'startEmbeddedPostgres' and its lock", () => {
	const dir = mkdtempSync(join(tmpdir(), "embedded-lock-"));
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	it("should hold the folder's lock while it runs and release it when it stops, so that it can start again", async () => {
		const first = await startEmbeddedPostgres(dir);
		expect(lockFileOf(dir).pid).toBe(process.pid);
		await expect(startEmbeddedPostgres(dir)).rejects.toThrow(/is already open in this process/);

		await first.stop();
		expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);

		const again = await startEmbeddedPostgres(dir);
		await again.stop();
	});
});
