import DbService from "moleculer-db";
import SequelizeDbAdapter from "moleculer-db-adapter-sequelize";
import type { ServiceSchema } from "moleculer";
import { Sequelize, type ModelStatic, type Model, type Transaction } from "sequelize";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../lib/database/embedded-postgres";
import { migrate, type Migration } from "../lib/database/migrator";

/** Settings every service with a database accepts. */
export interface DbSettings {
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
class MigratingSequelizeAdapter extends SequelizeDbAdapter {
	declare service: { settings: DbSettings; name: string; logger: { info(...a: unknown[]): void }; model?: unknown };
	declare db: Sequelize;
	declare model: ModelStatic<Model>;
	/** True once connected and migrated. */
	ready = false;
	private embedded?: EmbeddedPostgres;

	constructor(private readonly options: DbMixinOptions) {
		super({});
	}

	async connect(): Promise<void> {
		const settings = this.service.settings;
		let url = settings.databaseUrl;
		if (!url) {
			this.embedded = await startEmbeddedPostgres(settings.embeddedDataDir || this.options.embeddedDataDir);
			url = this.embedded.url;
			this.service.logger.info(`Embedded PostgreSQL (PGlite) is serving '${this.embedded.dataDir}'.`);
		}
		const poolSize = this.embedded ? 1 : (settings.poolSize ?? 10);
		this.db = new Sequelize(url, {
			dialect: "postgres",
			logging: false,
			pool: { max: poolSize, min: 0, acquire: 30_000, idle: 10_000 }
		});
		try {
			await this.db.authenticate();
			await migrate(this.db, this.options.migrations, this.service.logger, `migrations:${this.service.name}`, poolSize > 1);
			this.model = this.options.defineModels(this.db);
			this.service.model = this.model;
			this.ready = true;
		} catch (err) {
			await this.disconnect();
			throw err;
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

/**
 * Gives a service its own PostgreSQL database through moleculer-db: migrations on start, a
 * Sequelize model, transactions, and a health check. moleculer-db's generic CRUD actions are
 * switched off: each service publishes only the actions of its own contract.
 */
export function createDbMixin(options: DbMixinOptions): ServiceSchema {
	return {
		name: "db-mixin",
		mixins: [DbService],
		// moleculer-db requires these two; the adapter below replaces the placeholder per instance.
		adapter: new MigratingSequelizeAdapter(options),
		model: { name: "placeholder", define: {} },
		settings: { embeddedDataDir: options.embeddedDataDir } satisfies Partial<DbSettings>,
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
				return (this.adapter as MigratingSequelizeAdapter).db;
			},

			/** Runs `work` in one database transaction (committed if it resolves, rolled back if not). */
			transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T> {
				return this.db().transaction(work);
			},
			/** Fails when the database cannot answer a trivial query. */
			async pingDatabase(): Promise<void> {
				await this.db().query("SELECT 1");
			}
		},
		created() {
			// One schema object may serve several brokers (tests, one process): each service instance
			// needs an adapter of its own.
			this.adapter = new MigratingSequelizeAdapter(options);
			this.adapter.init(this.broker, this);
		}
	} as ServiceSchema;
}

export type { Migration };
