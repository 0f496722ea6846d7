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
import { DeadLetterNotFoundError } from "./dead-letters.errors";
import { OutboxDeadLetters, type DeadLetterSource } from "./outbox-dead-letters";

/** Settings of the dead-letter service. */
export interface DeadLettersSettings extends ServiceSettingSchema {
	/** RabbitMQ URL (the node's TRANSPORTER); unset means one process: the outboxes keep the failed events. */
	amqpUrl?: string;
}

/** The dead-letter service has no methods of its own. */
export type DeadLettersMethods = Record<never, never>;

/** What the dead-letter service keeps on its instance. */
export interface DeadLettersVars {
	/** Where the dead letters are: RabbitMQ's queues, or the local services' outboxes. */
	source: DeadLetterSource;
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

	settings: {},

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
				return replayed;
			}
		},

		/** Sends every dead letter matching the filter back to be handled again. */
		replayAll: {
			params: deadLetterFilterSchema,
			async handler(ctx: Context<DeadLetterFilter>): Promise<{ replayed: number; ids: string[] }> {
				const replayed: DeadLetterView[] = await this.source.replay(ctx.params);
				this.logger.info(`${replayed.length} dead letter(s) replayed.`, { filter: ctx.params });
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
				return purged;
			}
		},

		/** Deletes every dead letter matching the filter. */
		purgeAll: {
			params: deadLetterFilterSchema,
			async handler(ctx: Context<DeadLetterFilter>): Promise<{ purged: number; ids: string[] }> {
				const purged: DeadLetterView[] = await this.source.purge(ctx.params);
				this.logger.warn(`${purged.length} dead letter(s) purged.`, { filter: ctx.params });
				return { purged: purged.length, ids: purged.map(v => v.id) };
			}
		}
	},

	// --- lifecycle -------------------------------------------------------------------------------
	created() {
		const url = this.settings.amqpUrl;
		const prefix = this.broker.namespace ? `MOL-${this.broker.namespace}` : "MOL";
		const queues = Object.entries(ConsumerGroups).map(([event, group]) => ({ event, group }));
		const source: DeadLetterSource = url ? new DeadLetterStore(url, prefix, queues) : new OutboxDeadLetters(this.broker);
		this.source = source;
	},

	async stopped() {
		await this.source.close();
	}
};

export default DeadLettersService;
