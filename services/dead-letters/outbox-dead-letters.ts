import type { ServiceBroker } from "moleculer";
import {
	OutboxFailureActions,
	oldestFirst,
	type DeadLetterFilter,
	type DeadLetterView,
	type FailedEventsParams
} from "../../lib/contracts/dead-letters";
import type { DeadLetterDepth } from "../../lib/metrics/business-metrics";

/** Where the dead-letter service finds dead letters: RabbitMQ's queues, or the services' outboxes. */
export interface DeadLetterSource {
	/** Dead letters matching the filter, oldest first, at most `limit`. */
	list(filter: DeadLetterFilter, limit: number): Promise<DeadLetterView[]>;
	/** One dead letter, or `null`. */
	get(id: string): Promise<DeadLetterView | null>;
	/** Sends the matching dead letters back to be handled again; returns them as they were. */
	replay(filter: DeadLetterFilter): Promise<DeadLetterView[]>;
	/** Deletes the matching dead letters; returns them. */
	purge(filter: DeadLetterFilter): Promise<DeadLetterView[]>;
	/** How many dead letters each event group holds. */
	depth(): Promise<DeadLetterDepth[]>;
	close(): Promise<void>;
}

/**
 * Dead letters without a broker: the events whose handler failed for good, kept (marked failed)
 * in the outbox table of the service that published them. Every local service with an outbox is
 * asked, and the answers are merged; an id names its service (`orders-outbox-42`).
 */
export class OutboxDeadLetters implements DeadLetterSource {
	constructor(private readonly broker: ServiceBroker) {}

	async list(filter: DeadLetterFilter, limit: number): Promise<DeadLetterView[]> {
		const params: FailedEventsParams = { ...filter, limit };
		const found = await this.askEach(OutboxFailureActions.List, params);
		return found.sort(oldestFirst).slice(0, limit);
	}

	async get(id: string): Promise<DeadLetterView | null> {
		const [hit] = await this.list({ id }, 1);
		return hit ?? null;
	}

	async replay(filter: DeadLetterFilter): Promise<DeadLetterView[]> {
		return (await this.askEach(OutboxFailureActions.Replay, filter)).sort(oldestFirst);
	}

	async purge(filter: DeadLetterFilter): Promise<DeadLetterView[]> {
		return (await this.askEach(OutboxFailureActions.Purge, filter)).sort(oldestFirst);
	}

	async depth(): Promise<DeadLetterDepth[]> {
		return this.askEach<DeadLetterDepth>(OutboxFailureActions.Count, {});
	}

	async close(): Promise<void> {}

	/** Calls one outbox action on every local service that has an outbox; concatenates the answers. */
	private async askEach<T = DeadLetterView>(action: string, params: object): Promise<T[]> {
		const answers = await Promise.all(this.outboxServices().map(service => this.broker.call<T[], object>(`${service}.${action}`, params)));
		return answers.flat();
	}

	/** The local services offering the outbox's failure actions (orders and processor). */
	private outboxServices(): string[] {
		const services = this.broker.registry.getServiceList({ onlyLocal: true, withActions: true }) as Array<{
			name: string;
			actions?: Record<string, unknown>;
		}>;
		return services.filter(s => s.actions?.[`${s.name}.${OutboxFailureActions.List}`]).map(s => s.name);
	}
}
