import type { QueryInterface, Sequelize } from "sequelize";
import { SequelizeStorage, Umzug } from "umzug";

/** One schema change; `up` receives Sequelize's QueryInterface. */
export interface Migration {
	name: string;
	up(queryInterface: QueryInterface, sequelize: Sequelize): Promise<unknown>;
	down?(queryInterface: QueryInterface, sequelize: Sequelize): Promise<unknown>;
}

interface MigrationLogger {
	info(...args: unknown[]): void;
}

/**
 * Applies the pending migrations (umzug, recorded in `schema_migrations`).
 *
 * Several instances of a service may start at once against one database: a PostgreSQL advisory lock,
 * held on a connection of its own, lets one of them migrate while the others wait. With a pool of
 * one (the embedded database, one process) there is nobody to wait for and no connection to spare.
 */
export async function migrate(
	sequelize: Sequelize,
	migrations: Migration[],
	logger: MigrationLogger,
	lockName: string,
	useLock: boolean
): Promise<string[]> {
	const umzug = new Umzug({
		migrations: migrations.map(m => ({
			name: m.name,
			up: () => m.up(sequelize.getQueryInterface(), sequelize),
			down: m.down ? () => m.down!(sequelize.getQueryInterface(), sequelize) : undefined
		})),
		storage: new SequelizeStorage({ sequelize, tableName: "schema_migrations" }),
		logger: undefined
	});

	const run = async () => {
		const done = applied(await umzug.up());
		if (done.length > 0) logger.info(`Applied migrations: ${done.join(", ")}.`);
		return done;
	};
	if (!useLock) return run();

	const manager = sequelize.connectionManager as unknown as {
		getConnection(): Promise<{ query(sql: string, values?: unknown[]): Promise<unknown> }>;
		releaseConnection(conn: unknown): Promise<void>;
	};
	const conn = await manager.getConnection();
	try {
		await conn.query("SELECT pg_advisory_lock(hashtext($1))", [lockName]);
		return await run();
	} finally {
		await conn.query("SELECT pg_advisory_unlock(hashtext($1))", [lockName]).catch(() => undefined);
		await manager.releaseConnection(conn);
	}
}

function applied(result: Array<{ name: string }>): string[] {
	return result.map(m => m.name);
}
