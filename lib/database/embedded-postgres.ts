import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

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
 * connection: the caller must use a pool of one.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
	const dir = resolve(dataDir);
	mkdirSync(dir, { recursive: true });
	// Loaded lazily: a deployment with a real database never pays for the WASM module.
	const { PGlite } = await import("@electric-sql/pglite");
	const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");

	const db = await PGlite.create(dir);
	const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 1 });
	await server.start();
	const url = `postgres://postgres@${server.getServerConn()}/postgres`;

	return {
		url,
		dataDir: dir,
		async stop() {
			await server.stop();
			await db.close();
		}
	};
}
