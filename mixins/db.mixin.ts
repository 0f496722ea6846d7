import DbService, { type MoleculerDbMethods } from "moleculer-db";
import SequelizeDbAdapter from "moleculer-db-adapter-sequelize";
import type { Logger, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Sequelize, type ModelStatic, type Model, type Transaction } from "sequelize";
import { classifyDatabaseError, type DatabaseErrorClass } from "../lib/database/connection-errors";
import { createDatabase } from "../lib/database/create-database";
import { describeDatabase, postgresUrlProblem, type DatabaseTarget } from "../lib/database/database-target";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../lib/database/embedded-postgres";
import { migrate, type Migration } from "../lib/database/migrator";
import type { Mixin, PartialSettingsSchema } from "../lib/broker/service-schema";
import { StartupError, isStartupError } from "../lib/startup-error";

/** How long a service waits before it tries an unreachable database again. */
const RETRY_DELAY_MS = 1000;

/**
 * moleculer-db without its `started`, which retries `connect()` every second for ever, whatever the
 * error: a wrong password or a MySQL URL would keep a node "starting" with no end. The mixin's own
 * `started` retries only what may heal.
 */
const { started: _retriesEveryErrorForever, ...DbServiceWithoutStart } = DbService as unknown as ServiceSchema;

/** Settings every service with a database accepts. */
export interface DbSettings extends ServiceSettingSchema {
	/** PostgreSQL URL; empty means an embedded PostgreSQL under `embeddedDataDir`. */
	databaseUrl?: string;
	embeddedDataDir: string;
	/** Connections in the pool (a real server only; the embedded one takes a single connection). */
	poolSize?: number;
}

export interface DbMixinOptions {
	migrations: Migration[];
	/** Defines the service's main model on the connected Sequelize instance. */
	defineModels(sequelize: Sequelize): ModelStatic<Model>;
	embeddedDataDir: string;
}

/**
 * moleculer-db's Sequelize adapter, extended to run migrations instead of `sync()` and to start the
 * embedded database when no URL is set. Its query methods (find, count, …) are the stock ones.
 */
export class MigratingSequelizeAdapter extends SequelizeDbAdapter {
	declare service: { settings: DbSettings; name: string; logger: Logger; model?: unknown };
	declare db: Sequelize;
	declare model: ModelStatic<Model>;
	/** True once connected and migrated. */
	ready = false;
	/** The database of the last connect, as the driver sees it (a real server only). */
	target?: DatabaseTarget;
	/** The database in words for log lines and messages: `host:port/name`, or the embedded folder. */
	where = "its database";
	private embedded?: EmbeddedPostgres;

	constructor(private readonly options: DbMixinOptions) {
		super({});
	}

	/**
	 * Connects (creating a missing database) and migrates. A URL that is not PostgreSQL's fails with a
	 * {@link StartupError}; any other failure rejects with the driver's error, for `started` to judge.
	 */
	async connect(): Promise<void> {
		const settings = this.service.settings;
		let url = settings.databaseUrl;
		if (url) {
			const problem = postgresUrlProblem(url);
			if (problem) throw new StartupError(`Service '${this.service.name}': its database URL ${problem}.`);
		} else {
			this.embedded = await startEmbeddedPostgres(settings.embeddedDataDir || this.options.embeddedDataDir, this.service.logger);
			url = this.embedded.url;
			this.service.logger.info(`Embedded PostgreSQL (PGlite) is serving '${this.embedded.dataDir}'.`);
		}
		const poolSize = this.embedded ? 1 : (settings.poolSize ?? 10);
		this.db = new Sequelize(url, {
			dialect: "postgres",
			logging: false,
			pool: { max: poolSize, min: 0, acquire: 30_000, idle: 10_000 }
		});
		const { host, port, database, username } = this.db.config;
		this.target = this.embedded ? undefined : { host: host ?? "localhost", port: Number(port ?? 5432), database, username: username ?? "" };
		this.where = this.target ? describeDatabase(this.target) : `embedded PostgreSQL in '${this.embedded!.dataDir}'`;
		try {
			await this.authenticate(url);
			await migrate(this.db, this.options.migrations, this.service.logger, `migrations:${this.service.name}`, poolSize > 1);
			this.model = this.options.defineModels(this.db);
			this.service.model = this.model;
			this.ready = true;
		} catch (err) {
			await this.disconnect();
			throw err;
		}
	}

	/** Checks the connection; a database that does not exist on a real server is created first. */
	private async authenticate(url: string): Promise<void> {
		try {
			await this.db.authenticate();
		} catch (err) {
			if (!this.target || classifyDatabaseError(err).kind !== "missing-database") throw err;
			if (await createDatabase(url, this.target)) {
				this.service.logger.info(`Created database '${this.target.database}' on ${this.target.host}:${this.target.port}: it did not exist.`);
			}
			await this.db.authenticate();
		}
	}

	async disconnect(): Promise<void> {
		this.ready = false;
		await this.db?.close().catch(() => undefined);
		const embedded = this.embedded;
		this.embedded = undefined;
		await embedded?.stop();
	}
}

/** The methods the database mixin gives a service (`connect` and `disconnect` are moleculer-db's). */
export interface DbMethods extends Pick<MoleculerDbMethods, "connect" | "disconnect"> {
	/** The service's Sequelize instance, for the queries a model does not express. */
	db(): Sequelize;
	/** Runs `work` in one database transaction (committed if it resolves, rolled back if not). */
	transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T>;
	/** Fails when the database cannot answer a trivial query. */
	pingDatabase(): Promise<void>;
	/** Waits before the next connect; false when the service stops meanwhile. */
	waitToRetryConnect(): Promise<boolean>;
}

/** What the database mixin keeps on the service instance; `TModel` is the service's main model. */
export interface DbVars<TModel extends ModelStatic<Model> = ModelStatic<Model>> {
	/** This instance's adapter: the connection, and whether it is ready. */
	adapter: MigratingSequelizeAdapter;
	/** The main model, set once the database is connected and migrated. */
	model: TModel;
	/** Ends the wait between two connects; set only while `started` waits. */
	cancelConnectRetry?: () => void;
}

/** The database mixin itself: moleculer-db requires `adapter` and `model` in the schema. */
type DbMixinSchema = PartialSettingsSchema<DbSettings, DbMethods, DbVars> & {
	adapter: MigratingSequelizeAdapter;
	model: { name: string; define: Record<string, never> };
};

/**
 * Gives a service its own PostgreSQL database through moleculer-db: migrations on start, a
 * Sequelize model, transactions, and a health check. moleculer-db's generic CRUD actions are
 * switched off: each service publishes only the actions of its own contract.
 */
export function createDbMixin(options: DbMixinOptions): Mixin<{ settings: DbSettings; methods: DbMethods; vars: DbVars }> {
	const schema: DbMixinSchema = {
		name: "db-mixin",
		mixins: [DbServiceWithoutStart],
		// moleculer-db requires these two; the adapter below replaces the placeholder per instance.
		adapter: new MigratingSequelizeAdapter(options),
		model: { name: "placeholder", define: {} },
		settings: { embeddedDataDir: options.embeddedDataDir },
		actions: {
			find: false,
			count: false,
			list: false,
			create: false,
			insert: false,
			get: false,
			update: false,
			remove: false
		},
		methods: {
			/** The service's Sequelize instance, for the queries a model does not express. */
			db(): Sequelize {
				return this.adapter.db;
			},

			/** Runs `work` in one database transaction (committed if it resolves, rolled back if not). */
			transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T> {
				return this.db().transaction(work);
			},
			/** Fails when the database cannot answer a trivial query. */
			async pingDatabase(): Promise<void> {
				await this.db().query("SELECT 1");
			},

			/** Waits before the next connect; false when the service stops meanwhile. */
			waitToRetryConnect(): Promise<boolean> {
				return new Promise(resolve => {
					const timer = setTimeout(() => {
						this.cancelConnectRetry = undefined;
						resolve(true);
					}, RETRY_DELAY_MS);
					this.cancelConnectRetry = () => {
						clearTimeout(timer);
						this.cancelConnectRetry = undefined;
						resolve(false);
					};
				});
			}
		},
		created() {
			// One schema object may serve several brokers (tests, one process): each service instance
			// needs an adapter of its own.
			this.adapter = new MigratingSequelizeAdapter(options);
			// moleculer-db's typings take a `Service` of bare settings, which no `Service<DbSettings>` is.
			this.adapter.init(this.broker, this as unknown as Service);
		},

		/**
		 * Connects, retrying while the database cannot be reached (it may come up later, as in
		 * Kubernetes); stops the start with a {@link StartupError} when it will never work as set.
		 */
		async started() {
			const adapter = this.adapter;
			for (;;) {
				try {
					await this.connect();
					return;
				} catch (err) {
					const failure = classifyDatabaseError(err);
					if (isStartupError(err) || failure.kind !== "transient") throw startFailure(this.name, adapter, err, failure);
					this.logger.warn(`Database ${adapter.where} cannot be reached (${failure.reason}); retrying in ${RETRY_DELAY_MS / 1000} s.`);
				}
				if (!(await this.waitToRetryConnect())) {
					// Stopped while waiting: the start never completes, and nothing is left running.
					return new Promise<never>(() => undefined);
				}
			}
		},

		stopped() {
			this.cancelConnectRetry?.();
		}
	};
	return schema;
}

/** The error that ends a start which will not work as configured. */
function startFailure(service: string, adapter: MigratingSequelizeAdapter, err: unknown, failure: DatabaseErrorClass): unknown {
	if (isStartupError(err)) return err;
	const as = adapter.target?.username ? ` as '${adapter.target.username}'` : "";
	switch (failure.kind) {
		case "refused":
			return new StartupError(
				`Service '${service}' cannot use its database ${adapter.where}${as}: ${failure.reason}. ` +
					"Check the user and password of its database URL, and that this user may connect to that database."
			);
		case "missing-database":
			return new StartupError(`Service '${service}' cannot use its database ${adapter.where}: ${failure.reason}.`);
		default:
			// A failed migration or a bug: not the operator's setting, so its stack is worth printing.
			return err;
	}
}

export type { Migration };
