import { ConnectionError, ConnectionRefusedError, ConnectionTimedOutError, DatabaseError, HostNotFoundError } from "sequelize";
import { classifyDatabaseError, databaseErrorCode } from "../../../../lib/database/connection-errors";

/** An error as the `pg` driver makes it: a message and a SQLSTATE or errno in `code`. */
const pgError = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

describe("Test 'classifyDatabaseError'", () => {
	describe("When the server will refuse the same connection every time", () => {
		it.each([
			["a wrong password", "password authentication failed for user \"orders\"", "28P01"],
			["an unknown role", "role \"nosuchuser\" does not exist", "28000"],
			["no pg_hba.conf entry", "no pg_hba.conf entry for host \"10.0.0.7\", user \"orders\"", "28000"],
			["no CONNECT privilege", "permission denied for database \"orders\"", "42501"]
		])("should call %s 'refused', with the driver's words and the code", (_, message, code) => {
			expect(classifyDatabaseError(new ConnectionError(pgError(message, code)))).toEqual({
				kind: "refused",
				code,
				reason: `${message} (${code})`
			});
		});
	});

	describe("When the database does not exist", () => {
		it("should call 3D000 'missing-database'", () => {
			const err = new ConnectionError(pgError("database \"orders\" does not exist", "3D000"));
			expect(classifyDatabaseError(err)).toMatchObject({ kind: "missing-database", code: "3D000" });
		});
	});

	describe("When the server is down, starting or busy", () => {
		it.each([
			["a refused connection", new ConnectionRefusedError(pgError("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"))],
			["a name that does not resolve yet", new HostNotFoundError(pgError("getaddrinfo ENOTFOUND orders-db", "ENOTFOUND"))],
			["a reset connection", new ConnectionError(pgError("read ECONNRESET", "ECONNRESET"))],
			["a server starting up", new ConnectionError(pgError("the database system is starting up", "57P03"))],
			["a server shutting down", new ConnectionError(pgError("terminating connection due to administrator command", "57P01"))],
			["too many connections", new ConnectionError(pgError("sorry, too many clients already", "53300"))],
			["a connection exception", new ConnectionError(pgError("could not receive data from client", "08006"))],
			["Sequelize's own time-out", new ConnectionTimedOutError(new Error("Connection timed out"))],
			["a connection a proxy closed", new ConnectionError(pgError("Connection terminated unexpectedly"))],
			["a bare driver error", pgError("connect ETIMEDOUT 10.0.0.9:5432", "ETIMEDOUT")]
		])("should call %s 'transient'", (_, err) => {
			expect(classifyDatabaseError(err).kind).toBe("transient");
		});
	});

	describe("When the failure is not about the connection", () => {
		it("should call a failed migration 'other'", () => {
			const err = new DatabaseError(Object.assign(pgError("syntax error at or near \"TABEL\"", "42601"), { sql: "CREATE TABEL x" }));
			expect(classifyDatabaseError(err)).toMatchObject({ kind: "other", code: "42601" });
		});

		it("should call an error without a code 'other', with its message as the reason", () => {
			expect(classifyDatabaseError(new TypeError("model is not a function"))).toEqual({ kind: "other", reason: "model is not a function" });
		});
	});
});

describe("Test 'databaseErrorCode'", () => {
	it("should find the SQLSTATE under Sequelize's wrapper", () => {
		expect(databaseErrorCode(new ConnectionError(pgError("database \"x\" already exists", "42P04")))).toBe("42P04");
	});

	it("should answer undefined for an error without a code", () => {
		expect(databaseErrorCode(new Error("nothing"))).toBeUndefined();
	});
});
