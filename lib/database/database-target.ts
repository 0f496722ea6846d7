/**
 * Pure helpers that name a PostgreSQL database in messages and commands: never with its password.
 */

/** The database a service connects to, as its driver sees it. */
export interface DatabaseTarget {
	host: string;
	port: number;
	database: string;
	/** Empty when the URL names no user (the driver then uses PGUSER or the OS user). */
	username: string;
}

/** The URL schemes the `pg` driver understands. */
const POSTGRES_SCHEMES = new Set(["postgres:", "postgresql:"]);

/**
 * The URL with its password replaced by `***`: safe for a log line or an error message. Works on
 * text that is no valid URL too (a password with an unencoded `/` or `@`, a missing `//`).
 */
export function redactUrl(url: string): string {
	const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
	const start = scheme ? scheme[0].length : 0;
	const query = url.search(/[?#]/);
	const at = url.lastIndexOf("@", query < 0 ? url.length : query);
	if (at < start) return url;
	const colon = url.indexOf(":", start);
	if (colon < 0 || colon > at) return url;
	return `${url.slice(0, colon)}:***${url.slice(at)}`;
}

/**
 * Why `url` cannot be a PostgreSQL connection URL, or `undefined` when it can. The reason quotes the
 * URL without its password.
 */
export function postgresUrlProblem(url: string): string | undefined {
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		return `'${redactUrl(url)}' is not a valid URL`;
	}
	if (!POSTGRES_SCHEMES.has(parsed.protocol)) {
		return `'${redactUrl(url)}' is not a PostgreSQL URL: expected postgres://user:password@host:port/database (or postgresql://)`;
	}
	return undefined;
}

/** `host:port/database`: where a database is, without user or password. */
export function describeDatabase(target: DatabaseTarget): string {
	return `${target.host}:${target.port}/${target.database}`;
}

/** A PostgreSQL identifier in double quotes, inner quotes doubled: any name becomes one literal name. */
export function quoteIdentifier(name: string): string {
	if (name.includes("\0")) throw new Error("A PostgreSQL identifier cannot contain a NUL character.");
	return `"${name.replace(/"/g, '""')}"`;
}

/** One word for a POSIX shell: as it is when it is plain, else in single quotes. */
export function shellWord(word: string): string {
	return /^[A-Za-z0-9_./:@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The `createdb` command that makes the target's database, for an operator to run. */
export function createdbCommand(target: DatabaseTarget): string {
	const user = target.username ? ` -U ${shellWord(target.username)}` : "";
	return `createdb -h ${shellWord(target.host)} -p ${target.port}${user} ${shellWord(target.database)}`;
}
