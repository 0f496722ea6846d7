/**
 * How a service with a database starts against the real PostgreSQL when its database URL is not
 * what it should be: a missing database is created; a login the server refuses, or a URL that is not
 * PostgreSQL's, stops the start with a StartupError at once; a server that cannot be reached yet is
 * waited for.
 */
import { ServiceBroker } from "moleculer";
import { createBrokerOptions, readEnvironment, serviceSettings } from "../../moleculer.config";
import { createDatabase } from "../../lib/database/create-database";
import { StartupError } from "../../lib/startup-error";
import { serviceSchemas } from "../../services";
import { ADMIN_DATABASE_URL, createTestDatabase, queryDatabase, uniqueSuffix, waitFor, type TestDatabase } from "../support/services";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

const admin = new URL(ADMIN_DATABASE_URL);
const server = `${admin.hostname}:${admin.port || 5432}`;

/** A URL on the test server for `database`, as `user` (the admin user by default). */
function urlOf(database: string, user?: { name: string; password?: string }): string {
	const url = new URL(ADMIN_DATABASE_URL);
	url.pathname = `/${database}`;
	if (user) {
		url.username = user.name;
		url.password = user.password ?? "";
	}
	return url.toString();
}

const databaseExists = async (name: string) =>
	(await queryDatabase(ADMIN_DATABASE_URL, "SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;
const dropDatabase = (name: string) => queryDatabase(ADMIN_DATABASE_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);

/** `promise`, or a failure if it has not settled within `ms`: a start must not retry for ever. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`Still not settled after ${ms} ms`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface LogRecord {
	level: string;
	message: string;
}

describe("Starting a service with a database on the real PostgreSQL", () => {
	const brokers: ServiceBroker[] = [];

	/** A broker with the orders service on `databaseUrl`; its log lines are collected, not printed. */
	function ordersBroker(databaseUrl: string): { broker: ServiceBroker; logs: LogRecord[] } {
		const config = readEnvironment({ NAMESPACE: `t${uniqueSuffix()}`, METRICS_PORT: "off", LOG_LEVEL: "info" });
		const logs: LogRecord[] = [];
		const broker = new ServiceBroker({
			...createBrokerOptions(config),
			logger: false,
			middlewares: [
				{
					name: "LogRecorder",
					newLogEntry(level: string, args: unknown[]) {
						logs.push({ level, message: String(args[0]) });
					}
				}
			]
		});
		broker.createService({ name: "orders", mixins: [serviceSchemas.orders], settings: { ...serviceSettings(config).orders, databaseUrl } });
		brokers.push(broker);
		return { broker, logs };
	}

	afterEach(async () => {
		await Promise.all(brokers.splice(0).map(b => b.stop().catch(() => undefined)));
	});

	describe("When its database does not exist", () => {
		// Capitals and a dash: only a quoted identifier creates exactly this name.
		const name = `t_Missing-DB_${uniqueSuffix()}`;
		afterAll(() => dropDatabase(name));

		it("should create it, say so, and start on it", async () => {
			const { broker, logs } = ordersBroker(urlOf(name));

			await within(broker.start(), 30_000);

			expect(await databaseExists(name)).toBe(true);
			expect(await queryDatabase(urlOf(name), "SELECT count(*)::int AS n FROM orders")).toEqual([{ n: 0 }]);
			expect(logs).toContainEqual({ level: "info", message: `Created database '${name}' on ${server}: it did not exist.` });
		});
	});

	describe("When the user may not create databases", () => {
		const role = `t_nocreate_${uniqueSuffix()}`;
		const name = `t_forbidden_${uniqueSuffix()}`;
		beforeAll(() => queryDatabase(ADMIN_DATABASE_URL, `CREATE ROLE "${role}" LOGIN NOCREATEDB`));
		afterAll(async () => {
			await dropDatabase(name);
			await queryDatabase(ADMIN_DATABASE_URL, `DROP ROLE IF EXISTS "${role}"`);
		});

		it("should stop with a StartupError naming the database, the server and the command that creates it", async () => {
			const { broker } = ordersBroker(urlOf(name, { name: role, password: "hunter2" }));

			const start = within(broker.start(), 15_000);

			await expect(start).rejects.toBeInstanceOf(StartupError);
			await expect(start).rejects.toThrow(
				`Database '${name}' does not exist on ${server} and could not be created: permission denied to create database (42501). ` +
					`Create it, then start again: createdb -h ${admin.hostname} -p ${admin.port || 5432} -U ${role} ${name}`
			);
			await expect(start).rejects.not.toThrow(/hunter2/);
			expect(await databaseExists(name)).toBe(false);
		});
	});

	describe("When the server refuses the login", () => {
		let db: TestDatabase;
		beforeAll(async () => {
			db = await createTestDatabase("refused");
		});
		afterAll(() => db?.drop());

		it("should stop at once with a StartupError naming the database and the reason, never the password", async () => {
			const { broker, logs } = ordersBroker(urlOf(db.name, { name: "nosuchuser", password: "hunter2" }));

			const start = within(broker.start(), 15_000);

			await expect(start).rejects.toBeInstanceOf(StartupError);
			await expect(start).rejects.toThrow(
				`Service 'orders' cannot use its database ${server}/${db.name} as 'nosuchuser': role "nosuchuser" does not exist (28000).`
			);
			await expect(start).rejects.not.toThrow(/hunter2/);
			expect(logs.filter(l => l.level === "warn")).toEqual([]);
		});
	});

	describe("When the URL is not a PostgreSQL URL", () => {
		it("should stop with a StartupError naming the setting's value without its password", async () => {
			const { broker } = ordersBroker("mysql://root:hunter2@127.0.0.1:3306/orders");

			const start = within(broker.start(), 15_000);

			await expect(start).rejects.toBeInstanceOf(StartupError);
			await expect(start).rejects.toThrow(
				"Service 'orders': its database URL 'mysql://root:***@127.0.0.1:3306/orders' is not a PostgreSQL URL: expected postgres://"
			);
		});
	});

	describe("When the server cannot be reached yet", () => {
		let db: TestDatabase;
		let proxy: TcpProxy;
		beforeAll(async () => {
			db = await createTestDatabase("later");
			proxy = await startTcpProxy(admin.hostname, Number(admin.port || 5432));
		});
		afterAll(async () => {
			await proxy?.close();
			await db?.drop();
		});

		it("should warn on each attempt, naming the database, and start once the server answers", async () => {
			proxy.down();
			const url = new URL(db.url);
			url.port = String(proxy.port);
			const { broker, logs } = ordersBroker(url.toString());

			const start = broker.start();
			const retries = () => logs.filter(l => l.level === "warn" && l.message.startsWith(`Database 127.0.0.1:${proxy.port}/${db.name} cannot be reached (`));
			await waitFor("two warnings of a retry", () => retries().length >= 2);
			expect(retries()[0].message).toMatch(/; retrying in 1 s\.$/);

			proxy.up();
			await within(start, 30_000);
			expect(await broker.call("orders.health")).toEqual({ status: "ok" });
		});
	});
});

describe("Test 'createDatabase'", () => {
	const name = `t_race_${uniqueSuffix()}`;
	const target = { host: admin.hostname, port: Number(admin.port || 5432), database: name, username: admin.username };
	afterAll(() => dropDatabase(name));

	it("should let two callers racing for the same name both succeed, one of them creating it", async () => {
		const created = await Promise.all([createDatabase(urlOf(name), target), createDatabase(urlOf(name), target)]);

		expect(created.sort()).toEqual([false, true]);
		expect(await databaseExists(name)).toBe(true);
	});

	it("should answer false for a database that exists", async () => {
		await expect(createDatabase(urlOf(name), target)).resolves.toBe(false);
	});
});
