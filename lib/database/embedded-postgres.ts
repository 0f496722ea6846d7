import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { StartupError } from "../startup-error";
import { lockDataDir, type LockLogger } from "./data-dir-lock";

/** A PostgreSQL server embedded in this process: PGlite (WASM PostgreSQL) behind a local socket. */
export interface EmbeddedPostgres {
	url: string;
	dataDir: string;
	stop(): Promise<void>;
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
		// Loaded lazily: a deployment with a real database never pays for the WASM module.
		const { PGlite } = await import("@electric-sql/pglite");
		const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");

		const db = await PGlite.create(dir);
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
