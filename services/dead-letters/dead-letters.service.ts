import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { ConsumerGroups } from "../../lib/contracts/events";
import {
	deadLetterFilterSchema,
	deadLetterIdSchema,
	listDeadLettersSchema,
	type DeadLetterFilter,
	type DeadLetterView
} from "../../lib/contracts/dead-letters";
import { DeadLetterStore } from "../../lib/transport/dead-letter-store";
import { ReliableAmqpTransporter } from "../../lib/transport/reliable-amqp";
import { setDeadLettersPending } from "../../lib/metrics/business-metrics";
import { DeadLetterNotFoundError } from "./dead-letters.errors";
import { OutboxDeadLetters, type DeadLetterSource } from "./outbox-dead-letters";

/** Settings of the dead-letter service. */
export interface DeadLettersSettings extends ServiceSettingSchema {
	/** The node's broker URLs (TRANSPORTER), tried in order; unset means one process: the outboxes keep the failed events. */
	amqpUrl?: string | string[];
	/** How often the dead letters are counted for the `dead_letters_pending` gauge (metrics on only). */
	depthIntervalMs: number;
}

/** The methods of the dead-letter service. */
export interface DeadLettersMethods {
	/** Counts the dead letters of every group into the `dead_letters_pending` gauge (metrics on only). */
	refreshDepth(): Promise<void>;
}

/** What the dead-letter service keeps on its instance. */
export interface DeadLettersVars {
	/** Where the dead letters are: RabbitMQ's queues, or the local services' outboxes. */
	source: DeadLetterSource;
	/** Counts the dead letters every `depthIntervalMs`. */
	depthTimer?: NodeJS.Timeout;
	/** The count under way, if any. */
	depthRefresh?: Promise<void> | null;
}

/**
 * Dead letters of every event group: list, inspect, replay (one, or all matching a filter) and
 * purge. With a broker they are RabbitMQ's dead-letter queues, and a replay goes back through the
 * group's main queue, so it is deduplicated like any delivery. Without one (one process) they are
 * the events marked failed in the outbox tables of the local services, and a replay makes the row
 * publishable again: its handler runs again from the outbox relay.
 */
const DeadLettersService: ServiceSchema<DeadLettersSettings, DeadLettersMethods, DeadLettersVars> = {
	name: "deadLetters",

	settings: { depthIntervalMs: 5000 },

	// --- actions ---------------------------------------------------------------------------------
	actions: {
		/** Lists dead letters, oldest first. */
		list: {
			params: listDeadLettersSchema,
			async handler(ctx: Context<DeadLetterFilter & { limit?: number | string }>): Promise<{ rows: DeadLetterView[]; count: number }> {
				const { limit, ...filter } = ctx.params;
				const rows = await this.source.list(filter, Number(limit ?? 100));
				return { rows, count: rows.length };
			}
		},

		/** Shows one dead letter with its payload, error and attempts. */
		get: {
			params: deadLetterIdSchema,
			async handler(ctx: Context<{ id: string }>): Promise<DeadLetterView> {
				const found = await this.source.get(ctx.params.id);
				if (!found) throw new DeadLetterNotFoundError(ctx.params.id);
				return found;
			}
		},

		/** Sends one dead letter back to be handled again (through its queue, or its outbox). */
		replay: {
			params: deadLetterIdSchema,
			async handler(ctx: Context<{ id: string }>): Promise<DeadLetterView> {
				const [replayed] = await this.source.replay({ id: ctx.params.id });
				if (!replayed) throw new DeadLetterNotFoundError(ctx.params.id);
				this.logger.info(`Dead letter '${replayed.id}' replayed to '${replayed.queue}'.`, { orderId: replayed.orderId });
				void this.refreshDepth();
				return replayed;
			}
		},

		/** Sends every dead letter matching the filter back to be handled again. */
		replayAll: {
			params: deadLetterFilterSchema,
			async handler(ctx: Context<DeadLetterFilter>): Promise<{ replayed: number; ids: string[] }> {
				const replayed: DeadLetterView[] = await this.source.replay(ctx.params);
				this.logger.info(`${replayed.length} dead letter(s) replayed.`, { filter: ctx.params });
				void this.refreshDepth();
				return { replayed: replayed.length, ids: replayed.map(v => v.id) };
			}
		},

		/** Deletes one dead letter for good. */
		purge: {
			params: deadLetterIdSchema,
			async handler(ctx: Context<{ id: string }>): Promise<DeadLetterView> {
				const [purged] = await this.source.purge({ id: ctx.params.id });
				if (!purged) throw new DeadLetterNotFoundError(ctx.params.id);
				this.logger.warn(`Dead letter '${purged.id}' purged.`, { orderId: purged.orderId, event: purged.event });
				void this.refreshDepth();
				return purged;
			}
		},

		/** Deletes every dead letter matching the filter. */
		purgeAll: {
			params: deadLetterFilterSchema,
			async handler(ctx: Context<DeadLetterFilter>): Promise<{ purged: number; ids: string[] }> {
				const purged: DeadLetterView[] = await this.source.purge(ctx.params);
				this.logger.warn(`${purged.length} dead letter(s) purged.`, { filter: ctx.params });
				void this.refreshDepth();
				return { purged: purged.length, ids: purged.map(v => v.id) };
			}
		}
	},

	// --- methods ---------------------------------------------------------------------------------
	methods: {
		/**
		 * Counts the dead letters of every group into `dead_letters_pending`: the messages of the
		 * dead-letter queues (with a broker), or the failed rows of the local outboxes (without).
		 * One count at a time; a failure (the broker away) leaves the gauge as it was.
		 */
		async refreshDepth(): Promise<void> {
			if (!this.broker.isMetricsEnabled()) return;
			if (this.depthRefresh) return this.depthRefresh;
			this.depthRefresh = this.source
				.depth()
				.then(depths => setDeadLettersPending(this.broker, depths))
				.catch((err: Error) => this.logger.debug("The dead letters could not be counted; they are counted again shortly.", err.message))
				.finally(() => (this.depthRefresh = null));
			return this.depthRefresh;
		}
	},

	// --- lifecycle -------------------------------------------------------------------------------
	created() {
		const url = this.settings.amqpUrl;
		const prefix = this.broker.namespace ? `MOL-${this.broker.namespace}` : "MOL";
		const queues = Object.entries(ConsumerGroups).map(([event, group]) => ({ event, group }));
		const transporter = this.broker.transit?.tx;
		if (url && !(transporter instanceof ReliableAmqpTransporter)) {
			throw new Error("The dead-letter store needs the node's ReliableAmqpTransporter: it checks each letter's signature with its cluster key.");
		}
		this.source = url ? new DeadLetterStore(url, prefix, queues, (transporter as ReliableAmqpTransporter).guard) : new OutboxDeadLetters(this.broker);
	},

	started() {
		if (!this.broker.isMetricsEnabled()) return;
		// Every known group shows 0 until its first dead letter.
		setDeadLettersPending(this.broker, Object.entries(ConsumerGroups).map(([event, group]) => ({ event, group, count: 0 })));
		this.depthTimer = setInterval(() => void this.refreshDepth(), this.settings.depthIntervalMs);
		this.depthTimer.unref();
		void this.refreshDepth();
	},

	async stopped() {
		clearInterval(this.depthTimer);
		await this.depthRefresh;
		await this.source.close();
	}
};

export default DeadLettersService;
