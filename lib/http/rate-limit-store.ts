/**
 * The PostgreSQL side of the caller rate limiter: a small `pg` pool of its own, the counters' table
 * (created when missing, safely when several api instances start at once), and a gate in front of
 * the pool that notices when the server stops answering.
 *
 * rate-limiter-flexible's RateLimiterPostgres sends its queries to {@link PostgresCounterStore.query}
 * (as its `storeClient`, type `pool`). While the server answers, queries go straight through. The
 * first failure logs one warning and closes the gate: queries then fail at once, without a round
 * trip, and RateLimiterPostgres answers from its insurance limiter (in memory, per process). Once
 * `retryMs` has passed, the next query starts a probe in the background (creating the table, which
 * may have been dropped); when it succeeds the gate opens again, which is logged once as well.
 */
import { Pool, type QueryConfig, type QueryResult } from "pg";
import { classifyDatabaseError, databaseErrorCode } from "../database/connection-errors";
import { createDatabase } from "../database/create-database";
import { describeDatabase, quoteIdentifier, type DatabaseTarget } from "../database/database-target";

/** Where the rate limiter writes its log lines: a Moleculer logger fits. */
export interface RateLimitLogger {
	info(message: string): void;
	warn(message: string): void;
}

export interface PostgresCounterStoreOptions {
	url: string;
	tableName: string;
	logger: RateLimitLogger;
	/** How long the gate stays closed after a failure before a query starts a probe of the server. */
	retryMs: number;
	/** How long a connection (or a free slot in the pool) may take, and how long a query may take. */
	timeoutMs: number;
	/** Connections in the pool. */
	poolSize: number;
	/** How often rows that expired long ago are deleted; 0: never. */
	cleanupEveryMs: number;
}

/** What a query gets while the gate is closed: the store is known not to answer. */
export class StoreUnavailableError extends Error {
	constructor(reason: string) {
		super(`The rate-limit store is not available: ${reason}`);
		this.name = "StoreUnavailableError";
	}
}

/** 42P01: undefined_table (dropped behind our back). 23505/42P07: a concurrent CREATE won. */
const UNDEFINED_TABLE = "42P01";
const CREATED_CONCURRENTLY = new Set(["23505", "42P07"]);

/** Rows whose window ended more than this long ago are deleted by the cleanup. */
const EXPIRED_FOR_MS = 3_600_000;

/** The database a URL names, for messages and for creating it (`pg` defaults the database to the user). */
export function databaseTargetOf(url: string): DatabaseTarget {
	const parsed = new URL(url);
	const username = decodeURIComponent(parsed.username);
	return {
		host: decodeURIComponent(parsed.hostname) || "localhost",
		port: Number(parsed.port || 5432),
		database: decodeURIComponent(parsed.pathname.slice(1)) || username,
		username
	};
}

interface Outage {
	since: number;
	retryAt: number;
	reason: string;
}

export class PostgresCounterStore {
	private readonly pool: Pool;
	private readonly target: DatabaseTarget;
	private readonly where: string;
	private readonly table: string;
	private tableReady = false;
	private outage: Outage | undefined;
	private probing = false;
	private closed = false;
	private cleanupTimer: NodeJS.Timeout | undefined;

	constructor(private readonly options: PostgresCounterStoreOptions) {
		this.target = databaseTargetOf(options.url);
		this.where = describeDatabase(this.target);
		this.table = quoteIdentifier(options.tableName);
		this.pool = new Pool({
			connectionString: options.url,
			max: options.poolSize,
			connectionTimeoutMillis: options.timeoutMs,
			query_timeout: options.timeoutMs,
			idleTimeoutMillis: 30_000,
			keepAlive: true,
			application_name: "api-rate-limit"
		});
		// An idle connection the server (or the network) drops: the pool removes it, and the next
		// query finds out whether the server is there. Without a listener it would crash the process.
		this.pool.on("error", () => undefined);
	}

	/** True while the server does not answer and the counts are this process's own. */
	get degraded(): boolean {
		return this.outage !== undefined;
	}

	/**
	 * Creates the table if it is missing (and the database, as the services do for theirs). Never
	 * rejects: a server that does not answer leaves the store degraded, to be probed again in the
	 * background by the first query after `retryMs`. Resolves true when the store is ready.
	 */
	async start(): Promise<boolean> {
		try {
			await this.ensureTable();
			return true;
		} catch (err) {
			this.failed(err);
			return false;
		} finally {
			if (this.options.cleanupEveryMs > 0) {
				this.cleanupTimer = setInterval(() => void this.deleteExpired(), this.options.cleanupEveryMs);
				this.cleanupTimer.unref();
			}
		}
	}

	/**
	 * The pool's `query`, behind the gate: what RateLimiterPostgres calls for every operation. While
	 * the store is down every query fails at once; when `retryMs` has passed, the first one also
	 * starts a probe in the background, so that no request waits for a server that may not answer.
	 */
	query(config: QueryConfig): Promise<QueryResult> {
		if (this.closed) return Promise.reject(new StoreUnavailableError("the limiter is closed"));
		const outage = this.outage;
		if (outage === undefined) return this.run(config);
		if (!this.probing && Date.now() >= outage.retryAt) void this.probe();
		return Promise.reject(new StoreUnavailableError(outage.reason));
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		clearInterval(this.cleanupTimer);
		await this.pool.end().catch(() => undefined);
	}

	private async run(config: QueryConfig): Promise<QueryResult> {
		try {
			return await this.pool.query(config);
		} catch (err) {
			this.failed(err);
			throw err;
		}
	}

	/** One attempt to set the table up again (it may have been dropped); the gate opens when it works. Never rejects. */
	private async probe(): Promise<void> {
		this.probing = true;
		try {
			await this.ensureTable();
			this.recovered();
		} catch (err) {
			this.failed(err);
		} finally {
			this.probing = false;
		}
	}

	/**
	 * `CREATE TABLE IF NOT EXISTS` is not safe on its own when several instances start at once: the
	 * losers fail with 23505 on pg_type's unique index. An advisory lock held for the statement's
	 * transaction (the simple protocol runs both statements as one) makes them wait their turn.
	 */
	private async ensureTable(): Promise<void> {
		const lockName = this.options.tableName.replace(/'/g, "''");
		const sql =
			`SELECT pg_advisory_xact_lock(hashtext('api-rate-limit:${lockName}')); ` +
			`CREATE TABLE IF NOT EXISTS ${this.table} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`;
		try {
			await this.createTable(sql);
		} catch (err) {
			if (!CREATED_CONCURRENTLY.has(databaseErrorCode(err) ?? "")) throw err;
		}
		this.tableReady = true;
	}

	private async createTable(sql: string): Promise<void> {
		try {
			await this.pool.query(sql);
		} catch (err) {
			if (classifyDatabaseError(err).kind !== "missing-database" || !this.target.database) throw err;
			if (await createDatabase(this.options.url, this.target)) {
				this.options.logger.info(`Rate limiting: created database '${this.target.database}' on ${this.target.host}:${this.target.port}: it did not exist.`);
			}
			await this.pool.query(sql);
		}
	}

	private failed(err: unknown): void {
		if (this.closed) return;
		if (databaseErrorCode(err) === UNDEFINED_TABLE) this.tableReady = false;
		const now = Date.now();
		// pg-pool wraps the socket's error in its own when the connection timed out: that one says what happened.
		const reason = err instanceof Error && /timeout/i.test(err.message) ? err.message : classifyDatabaseError(err).reason;
		const wasUp = this.outage === undefined;
		this.outage = { since: this.outage?.since ?? now, retryAt: now + this.options.retryMs, reason };
		if (wasUp) {
			this.options.logger.warn(
				`Rate limiting: the shared store ${this.where} does not answer (${reason}). ` +
					`Until it does, each api instance counts callers in its own memory, so a caller may get up to one budget per instance; ` +
					`trying again every ${Math.ceil(this.options.retryMs / 1000)} s while requests come.`
			);
		}
	}

	private recovered(): void {
		const outage = this.outage;
		if (outage === undefined) return;
		this.outage = undefined;
		this.options.logger.info(
			`Rate limiting: the shared store ${this.where} answers again after ${Math.round((Date.now() - outage.since) / 1000)} s; counting there again.`
		);
	}

	/** Deletes rows whose window ended an hour ago: nothing reads them. Failures are ignored. */
	private async deleteExpired(): Promise<void> {
		if (this.closed || this.outage !== undefined || !this.tableReady) return;
		await this.pool.query(`DELETE FROM ${this.table} WHERE expire < $1`, [Date.now() - EXPIRED_FOR_MS]).catch(() => undefined);
	}
}
