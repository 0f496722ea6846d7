/**
 * The hot path's SQL: named prepared statements run on a `pg` connection of the pool Sequelize
 * already manages, inside a transaction that this module opens and ends itself.
 *
 * Why not Sequelize here: for each query it builds an Error for the stack, inlines the values into
 * the SQL text (so PostgreSQL parses and plans every statement afresh) and runs its logging code;
 * on the order path that was a third of each node's CPU and a quarter of PostgreSQL's
 * (docs/benchmarks.md). A named statement is parsed and planned once per connection, and its values
 * travel apart from its text. Models, migrations, lists and the admin queries stay on Sequelize.
 *
 * A {@link SqlTransaction} can also wrap a Sequelize transaction (`sqlOf`), so code shared by the
 * hot path and the Sequelize path (the outbox, the saga's decisions) is written once.
 */
import type { Sequelize, Transaction } from "sequelize";

/** One statement, prepared once per connection under its name (unless planned at each run). */
export interface Statement {
	readonly name: string;
	readonly text: string;
	/**
	 * Plans the statement at each run, from its values and the table as it is then, instead of
	 * keeping the plan of its sixth run: for a statement whose only good plan on a small table (read
	 * it whole) is a bad one on the same table grown, where the index's cost is not far enough below.
	 */
	readonly planEachRun?: boolean;
}

/** Names a statement; the name must be unique in the process (it identifies the prepared plan). */
export function statement(name: string, text: string, options: { planEachRun?: boolean } = {}): Statement {
	return { name, text, ...options };
}

/** What the hot path needs of a transaction: run a statement, and act once it committed. */
export interface SqlTransaction {
	query<R = Record<string, unknown>>(statement: Statement, values: unknown[]): Promise<R[]>;
	/** Runs `fn` after the commit (never after a rollback). */
	afterCommit(fn: () => void): void;
}

/** The part of a `pg` client the hot path uses. */
interface PgClient {
	query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** The part of Sequelize's connection manager that lends and takes back pool connections. */
interface ConnectionManager {
	getConnection(options?: { type?: string }): Promise<PgClient>;
	releaseConnection(connection: PgClient): Promise<void>;
}

function connectionManager(db: Sequelize): ConnectionManager {
	return (db as unknown as { connectionManager: ConnectionManager }).connectionManager;
}

async function run<R>(client: PgClient, s: Statement, values: unknown[]): Promise<R[]> {
	const result = await client.query(s.planEachRun ? { text: s.text, values } : { name: s.name, text: s.text, values });
	return result.rows as R[];
}

/** The Sequelize transaction `t` as a {@link SqlTransaction} (its statements run on its connection). */
export function sqlOf(t: Transaction): SqlTransaction {
	const client = (t as unknown as { connection: PgClient }).connection;
	return {
		query: (s, values) => run(client, s, values),
		afterCommit: fn => t.afterCommit(fn)
	};
}

/**
 * Runs `work` in one transaction on a pool connection: BEGIN, the work, COMMIT; ROLLBACK if the
 * work throws. The connection goes back to the pool either way; after a failed ROLLBACK (the
 * connection is broken) Sequelize's pool validation drops it.
 */
export async function inTransaction<T>(db: Sequelize, work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
	const manager = connectionManager(db);
	const client = await manager.getConnection({ type: "write" });
	const afterCommit: Array<() => void> = [];
	try {
		await client.query({ text: "BEGIN" });
		let result: T;
		try {
			result = await work({ query: (s, values) => run(client, s, values), afterCommit: fn => afterCommit.push(fn) });
		} catch (err) {
			await client.query({ text: "ROLLBACK" }).catch(() => undefined);
			throw err;
		}
		await client.query({ text: "COMMIT" });
		for (const fn of afterCommit) fn();
		return result;
	} finally {
		await manager.releaseConnection(client);
	}
}

/** Runs one statement on its own (it is its own transaction) on a pool connection. */
export async function runStatement<R = Record<string, unknown>>(db: Sequelize, s: Statement, values: unknown[]): Promise<R[]> {
	const manager = connectionManager(db);
	const client = await manager.getConnection({ type: "write" });
	try {
		return await run<R>(client, s, values);
	} finally {
		await manager.releaseConnection(client);
	}
}
