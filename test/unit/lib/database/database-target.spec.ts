import {
	createdbCommand,
	describeDatabase,
	postgresUrlProblem,
	quoteIdentifier,
	redactUrl,
	shellWord
} from "../../../../lib/database/database-target";

describe("Test 'redactUrl'", () => {
	it("should hide the password and keep everything else", () => {
		expect(redactUrl("postgres://orders:s3cr%40t@db:5432/orders?sslmode=require")).toBe("postgres://orders:***@db:5432/orders?sslmode=require");
	});

	it("should hide the password of any scheme", () => {
		expect(redactUrl("mysql://root:hunter2@db/orders")).toBe("mysql://root:***@db/orders");
	});

	it("should hide a password that holds characters a URL must encode", () => {
		expect(redactUrl("postgres://orders:p@ss/w:rd@db/orders")).toBe("postgres://orders:***@db/orders");
	});

	it("should hide the password of a value without '//'", () => {
		expect(redactUrl("orders:hunter2@db")).toBe("orders:***@db");
	});

	it("should leave a URL without a password as it is", () => {
		expect(redactUrl("postgres://orders@db/orders")).toBe("postgres://orders@db/orders");
		expect(redactUrl("postgres://db/orders")).toBe("postgres://db/orders");
		expect(redactUrl("postgres://db:5432/orders?application_name=a@b")).toBe("postgres://db:5432/orders?application_name=a@b");
	});
});

describe("Test 'postgresUrlProblem'", () => {
	it.each(["postgres://orders:pw@db:5432/orders", "postgresql://db/orders", "postgres://127.0.0.1/x?sslmode=require"])(
		"should accept %s",
		url => {
			expect(postgresUrlProblem(url)).toBeUndefined();
		}
	);

	it("should refuse another database's URL, quoting it without its password", () => {
		const problem = postgresUrlProblem("mysql://root:hunter2@db/orders");
		expect(problem).toMatch(/^'mysql:\/\/root:\*\*\*@db\/orders' is not a PostgreSQL URL: expected postgres:\/\//);
		expect(problem).not.toContain("hunter2");
	});

	it("should refuse a value with no scheme, without echoing its password", () => {
		const problem = postgresUrlProblem("orders:hunter2@db");
		expect(problem).toMatch(/^'orders:\*\*\*@db' is not a PostgreSQL URL/);
	});

	it("should refuse a value that is no URL at all, without echoing its password", () => {
		expect(postgresUrlProblem("postgres://orders:hunter2@db:port/orders")).toBe("'postgres://orders:***@db:port/orders' is not a valid URL");
	});
});

describe("Test 'describeDatabase'", () => {
	it("should name host, port and database, and no user", () => {
		expect(describeDatabase({ host: "db", port: 5432, database: "orders", username: "orders" })).toBe("db:5432/orders");
	});
});

describe("Test 'quoteIdentifier'", () => {
	it("should quote a plain name", () => {
		expect(quoteIdentifier("orders")).toBe('"orders"');
	});

	it("should keep capitals and dashes as they are", () => {
		expect(quoteIdentifier("Orders-EU")).toBe('"Orders-EU"');
	});

	it("should double quotes inside the name, so that nothing escapes the identifier", () => {
		expect(quoteIdentifier('x"; DROP DATABASE postgres; --')).toBe('"x""; DROP DATABASE postgres; --"');
	});

	it("should refuse a NUL character, which PostgreSQL cannot store", () => {
		expect(() => quoteIdentifier("a\0b")).toThrow(/NUL/);
	});
});

describe("Test 'createdbCommand'", () => {
	it("should give the command with host, port, user and name", () => {
		expect(createdbCommand({ host: "127.0.0.1", port: 5432, database: "orders", username: "app" })).toBe(
			"createdb -h 127.0.0.1 -p 5432 -U app orders"
		);
	});

	it("should leave the user out when the URL names none", () => {
		expect(createdbCommand({ host: "db", port: 5433, database: "orders", username: "" })).toBe("createdb -h db -p 5433 orders");
	});

	it("should quote a name the shell would split or expand", () => {
		expect(createdbCommand({ host: "db", port: 5432, database: "it's $HOME", username: "app" })).toBe(
			"createdb -h db -p 5432 -U app 'it'\\''s $HOME'"
		);
	});
});

describe("Test 'shellWord'", () => {
	it("should leave a plain word as it is", () => {
		expect(shellWord("orders_eu-1")).toBe("orders_eu-1");
	});

	it("should single-quote a word with spaces", () => {
		expect(shellWord("two words")).toBe("'two words'");
	});
});
