import { Client } from "pg";
import { StartupError } from "../startup-error";
import { classifyDatabaseError, databaseErrorCode } from "./connection-errors";
import { createdbCommand, quoteIdentifier, shellWord, type DatabaseTarget } from "./database-target";

/** The database every PostgreSQL server has, to connect to when the wanted one does not exist. */
const MAINTENANCE_DATABASE = "postgres";

/**
 * 42P04: duplicate_database. 23505: unique_violation, which a `CREATE DATABASE` racing another one
 * for the same name may raise instead (on pg_database's unique index).
 */
const ALREADY_EXISTS = new Set(["42P04", "23505"]);

/**
 * Creates the target's database, connecting to the same server's `postgres` database with the
 * credentials of `url`. Resolves `true` when it created the database, `false` when another process
 * did first. A server that cannot be reached rejects with the driver's error, for the caller to
 * retry; any other failure is a {@link StartupError} that says how to create the database by hand.
 */
export async function createDatabase(url: string, target: DatabaseTarget): Promise<boolean> {
	const maintenance = new URL(url);
	maintenance.pathname = `/${MAINTENANCE_DATABASE}`;
	const client = new Client({ connectionString: maintenance.toString() });
	// A connection the server drops must reject the query below, not crash the process.
	client.on("error", () => undefined);
	try {
		await client.connect();
		await client.query(`CREATE DATABASE ${quoteIdentifier(target.database)}`);
		return true;
	} catch (err) {
		if (ALREADY_EXISTS.has(databaseErrorCode(err) ?? "")) return false;
		const failure = classifyDatabaseError(err);
		if (failure.kind === "transient") throw err;
		throw new StartupError(
			`Database '${target.database}' does not exist on ${target.host}:${target.port} and could not be created: ${failure.reason}. ` +
				`Create it, then start again: ${createdbCommand(target)}` +
				(target.username ? ` (or, as a user that may create databases, add -O ${shellWord(target.username)}).` : ".")
		);
	} finally {
		await client.end().catch(() => undefined);
	}
}
