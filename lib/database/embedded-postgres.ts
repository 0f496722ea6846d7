import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { StartupError } from "../startup-error";
import { lockDataDir, type LockLogger } from "./data-dir-lock";

/** Where the embedded databases live without DATA_DIR: one folder per service under it. */
export const DEFAULT_DATA_DIR = "./data";

/** The embedded database folder of one service, under `dataDir` (DATA_DIR). */
export function embeddedDataDirOf(service: string, dataDir: string = DEFAULT_DATA_DIR): string {
	return join(dataDir, service);
}

/** A PostgreSQL server embedded in this process: PGlite (WASM PostgreSQL) behind a local socket. */
export interface EmbeddedPostgres {
	url: string;
	dataDir: string;
	stop(): Promise<void>;
}

/**
 * PostgreSQL settings of the embedded server. They go on its command line, not in postgresql.conf,
 * so they also hold for folders made before them: initdb writes `shared_buffers = 128MB` there.
 *
 * Why: PGlite's memory is one WebAssembly heap that grows and never shrinks, and emscripten zeroes
 * (so touches) the shared memory when the server starts. With the stock 128 MB of buffers each
 * database cost about 200 MB of RSS at rest, and `npm start` runs two. Our tables are small, and a
 * page missing from the buffers is read from the OS page cache, not the disk (figures in "Embedded
 * mode memory", docs/benchmarks.md). The server takes a single connection, hence max_connections;
 * work_mem and maintenance_work_mem bound what a sort or a VACUUM may add to the heap for good.
 * `initialMemory` is left at PGlite's 128 MB: it is address space, and untouched pages cost no RSS.
 */
export const EMBEDDED_SETTINGS: Readonly<Record<string, string>> = {
	shared_buffers: "8MB",
	max_connections: "8",
	work_mem: "2MB",
	maintenance_work_mem: "8MB"
};

/** PGlite's own start parameters (single-user mode, fsync off, …) followed by ours. */
function startParams(defaults: readonly string[]): string[] {
	return [...defaults, ...Object.entries(EMBEDDED_SETTINGS).flatMap(([name, value]) => ["-c", `${name}=${value}`])];
}

/**
 * Runs PGlite's WebAssembly with V8's baseline compiler only. By default V8 recompiles the hot
 * functions of the 9 MB module with its optimising compiler, which added about 50 MB of machine
 * code and compiler memory per process under load: with it the process passes 300 MB under load,
 * without it it stays well below. The price is slower queries (orders took up to 40 % longer in
 * our runs). The flag is process-wide but only concerns WebAssembly; it is set before PGlite's
 * module is compiled.
 */
function useBaselineWasmCompiler(): void {
	setFlagsFromString("--liftoff-only");
}

/**
 * Creates the cluster in an empty `dir` in a child process and waits for it. PGlite's initdb runs a
 * second WebAssembly PostgreSQL and copies the result through a tarball in memory: over 400 MB at
 * its peak, much of it kept by this process long after. In a child it is all returned on exit.
 */
function initialiseInChild(dir: string, params: string[]): Promise<void> {
	const script = [
		"const [entry, dir, params] = process.argv.slice(1);",
		"require(entry).PGlite.create(dir, { startParams: JSON.parse(params) })",
		"	.then(db => db.close())",
		// The parent turns the child's stderr into its StartupError: the child has no logger.
		"	.catch(err => { process.stderr.write(String(err && err.stack || err) + '\\n'); process.exit(1); });"
	].join("\n");
	const entry = require.resolve("@electric-sql/pglite");
	return new Promise((done, fail) => {
		const child = execFile(process.execPath, ["--liftoff-only", "-e", script, entry, dir, JSON.stringify(params)], { maxBuffer: 4 * 1024 * 1024 }, (err, _stdout, stderr) => {
			process.removeListener("exit", stopChild);
			if (!err) return done();
			const reason = stderr.trim() || (err.signal ? `it was stopped by ${err.signal}` : err.message);
			fail(new StartupError(`The embedded PostgreSQL could not create its database in '${dir}': ${reason.split("\n")[0]}`));
		});
		// A node that exits meanwhile (a start interrupted) leaves no child writing into the folder.
		const stopChild = () => child.kill();
		process.once("exit", stopChild);
	});
}

/**
 * Starts PGlite on `dataDir` and serves the PostgreSQL wire protocol on a free loopback port, so the
 * same `pg` + Sequelize code runs against it as against a real server.
 *
 * PGlite runs one query at a time and knows nothing of concurrent sessions, so the server accepts one
 * connection: the caller must use a pool of one. Nor does it lock its folder against other
 * processes: this does (see data-dir-lock.ts), and fails with a {@link StartupError} when another
 * process holds it. The lock is released by `stop()`.
 */
export async function startEmbeddedPostgres(dataDir: string, logger?: LockLogger): Promise<EmbeddedPostgres> {
	const dir = resolve(dataDir);
	try {
		mkdirSync(dir, { recursive: true });
	} catch (err) {
		throw new StartupError(`The data folder '${dir}' cannot be created: ${(err as Error).message}. Set DATA_DIR to a writable folder.`);
	}
	const lock = await lockDataDir(dir, logger);
	try {
		useBaselineWasmCompiler();
		// Loaded lazily: a deployment with a real database never pays for the WASM module.
		const { PGlite } = await import("@electric-sql/pglite");
		const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");

		const params = startParams(PGlite.defaultStartParams);
		if (!existsSync(join(dir, "PG_VERSION"))) await initialiseInChild(dir, params);
		const db = await PGlite.create(dir, { startParams: params });
		const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 1 });
		await server.start().catch(async err => {
			await db.close();
			throw err;
		});
		const url = `postgres://postgres@${server.getServerConn()}/postgres`;

		return {
			url,
			dataDir: dir,
			async stop() {
				try {
					await server.stop();
					await db.close();
				} finally {
					lock.release();
				}
			}
		};
	} catch (err) {
		lock.release();
		throw err;
	}
}
