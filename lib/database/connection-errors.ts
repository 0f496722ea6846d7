/**
 * What a failure to connect to PostgreSQL means for a start: wait and try again, create the missing
 * database, or stop. Pure: it reads the error's code (a SQLSTATE or a socket errno), through the
 * wrappers Sequelize puts around the `pg` driver's errors.
 */

export type DatabaseErrorKind =
	/** The server answered that the database does not exist (3D000). */
	| "missing-database"
	/** The server refused this user or this database, and will refuse it every time. */
	| "refused"
	/** The server cannot be reached, or cannot take the connection yet: it may a moment later. */
	| "transient"
	/** Not a connection problem (a failed migration, a bug): retrying would not change it. */
	| "other";

export interface DatabaseErrorClass {
	kind: DatabaseErrorKind;
	/** The code found (SQLSTATE or errno), if any. */
	code?: string;
	/** The driver's own words, with the code: "role "x" does not exist (28000)". */
	reason: string;
}

/** Socket and DNS errors of a server that is down, restarting, or not reachable yet. */
const TRANSIENT_ERRNOS = new Set([
	"ECONNREFUSED",
	"ECONNRESET",
	"ECONNABORTED",
	"EPIPE",
	"ETIMEDOUT",
	"EHOSTUNREACH",
	"EHOSTDOWN",
	"ENETUNREACH",
	"ENETDOWN",
	"EAI_AGAIN",
	// A name that does not resolve yet: in Compose or Kubernetes the database's name may appear later.
	"ENOTFOUND"
]);

/** Sequelize's own errors that carry no code of the driver's. */
const TRANSIENT_SEQUELIZE_ERRORS = new Set(["SequelizeConnectionTimedOutError", "SequelizeConnectionAcquireTimeoutError"]);

/**
 * SQLSTATEs worth waiting out: 08 connection exception, 53 insufficient resources (too many
 * connections), 57P01–57P03 shutting down or starting up, 40 serialization failure or deadlock,
 * 55P03 lock not available.
 */
function isTransientSqlState(code: string): boolean {
	return /^(08|53|40)/.test(code) || /^57P0[1-3]$/.test(code) || code === "55P03";
}

/** 28: invalid authorization (bad password, unknown role, no pg_hba entry); 42501: no privilege. */
function isRefusalSqlState(code: string): boolean {
	return code.startsWith("28") || code === "42501";
}

/** Classifies an error thrown while connecting to PostgreSQL or migrating its schema. */
export function classifyDatabaseError(err: unknown): DatabaseErrorClass {
	const cause = driverError(err);
	const code = typeof cause.code === "string" ? cause.code : undefined;
	const message = typeof cause.message === "string" && cause.message ? cause.message : String(err);
	const reason = code && !message.includes(code) ? `${message} (${code})` : message;

	if (code === "3D000") return { kind: "missing-database", code, reason };
	if (code && isRefusalSqlState(code)) return { kind: "refused", code, reason };
	if (code && (TRANSIENT_ERRNOS.has(code) || isTransientSqlState(code))) return { kind: "transient", code, reason };
	const name = (err as { name?: unknown } | null)?.name;
	if (typeof name === "string" && TRANSIENT_SEQUELIZE_ERRORS.has(name)) return { kind: "transient", code, reason };
	// The `pg` driver's words for a connection the server (or a proxy in front of it) closed.
	if (!code && /^Connection terminated/.test(message)) return { kind: "transient", reason };
	return { kind: "other", code, reason };
}

/** The SQLSTATE or errno of an error, looking through Sequelize's wrappers; undefined without one. */
export function databaseErrorCode(err: unknown): string | undefined {
	const code = driverError(err).code;
	return typeof code === "string" ? code : undefined;
}

type ErrorLike = { code?: unknown; message?: unknown; original?: unknown; parent?: unknown; cause?: unknown };

/** The innermost error that carries a code, else the innermost wrapped one. */
function driverError(err: unknown): ErrorLike {
	let current = (err ?? {}) as ErrorLike;
	for (let depth = 0; depth < 5; depth++) {
		if (typeof current.code === "string") return current;
		const inner = current.original ?? current.parent ?? current.cause;
		if (!inner || typeof inner !== "object") return current;
		current = inner as ErrorLike;
	}
	return current;
}
