/**
 * What the outbox mixin gives a service, as types: its settings, its methods and the state it keeps
 * on the instance. A service using the outbox extends its own Settings, Methods and Vars with these.
 */
import type { ServiceSettingSchema } from "moleculer";
import type { CancelTimer } from "../lib/clock";
import type { Transaction } from "sequelize";
import type { SqlTransaction } from "../lib/database/sql";
import type { DeliveryPolicy } from "../lib/transport/delivery-policy";
import type { TraceCarrier } from "../lib/tracing/context";

/** Settings of the outbox relay. */
export interface OutboxSettings extends ServiceSettingSchema {
	/** How often the relay looks for unsent rows when nothing woke it. */
	outboxPollIntervalMs: number;
	/** Rows published per batch. */
	outboxBatchSize: number;
	/** How long a sent row is kept (for inspection) before the pruner deletes it. */
	outboxRetentionMs: number;
	/** How often the pruner runs. */
	outboxPruneIntervalMs: number;
	/** How often, at most, the relay reads its lag for the outbox gauges (metrics on only). */
	outboxLagIntervalMs: number;
	/** Crash points for the failure tests (lib/fault-points.ts). */
	faultPoints?: string[];
	/** Without a transporter: when a failed handler runs again, and when its event is marked failed. */
	outboxDelivery: DeliveryPolicy;
}

/** A row of `outbox_events` as the relay claims it. */
export interface OutboxRow {
	id: string;
	event_name: string;
	consumer_group: string;
	payload: Record<string, unknown>;
	meta: Record<string, unknown>;
	/** The trace of the transaction that wrote the row; null when tracing was off (lib/tracing). */
	trace_context: TraceCarrier | null;
	attempts: number;
	prior_attempts: number;
}

/** The methods the outbox mixin gives a service. */
export interface OutboxMethods {
	/** Adds an event to the outbox inside the caller's transaction; the relay publishes it after commit. */
	enqueueEvent(
		t: Transaction | SqlTransaction,
		eventName: string,
		consumerGroup: string,
		payload: object,
		meta?: Record<string, unknown>
	): Promise<void>;
	/** Publishes unsent outbox rows in batches until none is left; returns how many were sent. */
	publishPendingOutbox(): Promise<number>;
	/** Claims, publishes and marks sent one batch of rows; returns its size when all went, else 0. */
	publishOutboxBatch(): Promise<number>;
	/** Carries out the delivery policy's decision on a row whose handler failed (no transporter). */
	settleHandlerFailure(row: OutboxRow, error: Error): Promise<void>;
	/** False when the event would be dropped: no transporter and no local handler of its group. */
	canDeliverEvent(eventName: string, group: string): boolean;
	/** Deletes sent rows older than the retention period; returns how many went. */
	pruneSentOutbox(): Promise<number>;
	/** Runs the relay now (coalescing concurrent wake-ups into one more pass). */
	wakeOutboxRelay(): void;
	/** Sets the outbox gauges, at most every `outboxLagIntervalMs` (metrics on only). */
	refreshOutboxLagMetrics(): void;
}

/** What the outbox relay keeps on the service instance. */
export interface OutboxVars {
	/** Set at stop: no relay pass starts any more. */
	outboxStopped: boolean;
	/** The pass under way, if any. */
	outboxRunning: Promise<void> | null;
	/** A wake-up came during a pass: run one more. */
	outboxWakeAgain: boolean;
	/** Stops the timer that wakes the relay every `outboxPollIntervalMs`. */
	outboxTimer?: CancelTimer;
	/** Stops the timer that runs the pruner every `outboxPruneIntervalMs`. */
	outboxPruneTimer?: CancelTimer;
	/** When the outbox gauges were last read (by the service's clock), and the read under way. */
	outboxLagAt?: number;
	outboxLagRefresh?: Promise<void> | null;
}

/**
 * What a saga needs of the outbox, without the service around it: queue an event inside its
 * transaction (published after commit), and wake the relay when a write committed outside one.
 */
export interface OutboxPort {
	enqueue(t: Transaction | SqlTransaction, eventName: string, consumerGroup: string, payload: object, meta?: Record<string, unknown>): Promise<void>;
	wake(): void;
}
