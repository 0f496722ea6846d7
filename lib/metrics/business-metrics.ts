/**
 * The business metrics of the order pipeline, in Moleculer's own registry (`broker.metrics`), so
 * that each node's Prometheus endpoint (`/metrics`, METRICS_PORT) shows them beside Moleculer's.
 *
 * Every definition is here: name (as Prometheus shows it), help text, labels, buckets; the services
 * only call the typed helpers below. Labels take values from small fixed sets (statuses, outcomes,
 * event and group names, error kinds) — never an order id, a customer id, a SKU or a message.
 *
 * The metrics are registered once per broker, by the {@link BusinessMetricsMiddleware} of
 * moleculer.config.ts (or by the first helper called, for a broker made without it). With metrics
 * off (METRICS_PORT=off) every helper does nothing.
 */
import type { Middleware, ServiceBroker } from "moleculer";
import { Errors } from "moleculer";
import { ConsumerGroups } from "../contracts/events";

/** The metric names, exactly as `/metrics` shows them (Moleculer changes nothing in them). */
export const MetricNames = {
	OrdersCreated: "orders_created_total",
	OrdersFinished: "orders_finished_total",
	OrderSagaDuration: "order_saga_duration_seconds",
	ProcessorProcessingDuration: "processor_processing_duration_seconds",
	StockReservations: "stock_reservations_total",
	OutboxPendingEvents: "outbox_pending_events",
	OutboxOldestPendingAge: "outbox_oldest_pending_age_seconds",
	EventRetries: "event_retries_total",
	DeadLetters: "dead_letters_total",
	DeadLettersPending: "dead_letters_pending",
	BusPacketsRejected: "bus_packets_rejected_total"
} as const;

/**
 * The statuses in which an order's saga reached an outcome, counted in `orders_finished_total{status}`
 * and timed by `order_saga_duration_seconds`. Not all final: a completed order may still be cancelled,
 * and then counts again as cancelled (the final statuses are the orders domain's `FINAL_STATUSES`).
 */
export const OUTCOME_STATUSES = ["completed", "failed", "cancelled", "expired"] as const;
export type OutcomeStatus = (typeof OUTCOME_STATUSES)[number];

/** How the processor's handling of one `order.created` ended. */
export const PROCESSING_OUTCOMES = ["completed", "failed"] as const;
export type ProcessingOutcome = (typeof PROCESSING_OUTCOMES)[number];

/** What happened to an order's stock: its reservation's outcome, or its release by a compensation. */
export const RESERVATION_OUTCOMES = ["reserved", "insufficient_stock", "unknown_sku", "released"] as const;
export type ReservationOutcome = (typeof RESERVATION_OUTCOMES)[number];

/**
 * Why an event was dead-lettered (or marked failed), from the error of its last run:
 * - `validation`: its payload broke the consumer's schema (a `ValidationError`);
 * - `malformed`: the message was not an event packet at all;
 * - `rule`: the handler refused it (any other `MoleculerClientError`); never retried;
 * - `signature`: the message's signature did not verify under the cluster key (not sent by a node
 *   of this cluster); never handled, and never replayed;
 * - `transient`: any other error, which the delivery policy retries; dead-lettered once
 *   RETRY_MAX_ATTEMPTS runs failed.
 */
export const DEAD_LETTER_REASONS = ["validation", "malformed", "signature", "rule", "transient"] as const;

/** Why a bus packet was refused (`bus_packets_rejected_total{reason}`); see lib/transport/packet-guard.ts. */
export const PACKET_REJECTION_REASONS = ["signature", "stale", "replay"] as const;
export type DeadLetterKind = (typeof DEAD_LETTER_REASONS)[number];

/** Upper bounds of the saga's duration buckets, in seconds: 50 ms to 10 minutes. */
export const SAGA_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Upper bounds of the processor's handling-time buckets, in seconds: 5 ms to 10 s. */
export const PROCESSING_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Definition {
	type: "counter" | "gauge" | "histogram";
	name: string;
	description: string;
	labelNames: string[];
	unit?: string;
	buckets?: number[];
}

/** Every business metric, as it is registered. */
export const BUSINESS_METRICS: Definition[] = [
	{
		type: "counter",
		name: MetricNames.OrdersCreated,
		description: "Orders created (committed); a request answered from its Idempotency-Key is not counted.",
		labelNames: []
	},
	{
		type: "counter",
		name: MetricNames.OrdersFinished,
		description: "Orders whose saga reached an outcome (completed, failed, cancelled, expired), once per order and status.",
		labelNames: ["status"]
	},
	{
		type: "histogram",
		name: MetricNames.OrderSagaDuration,
		description: "Seconds from an order's creation to its saga's outcome, by that outcome status.",
		labelNames: ["status"],
		unit: "second",
		buckets: SAGA_DURATION_BUCKETS
	},
	{
		type: "histogram",
		name: MetricNames.ProcessorProcessingDuration,
		description: "Seconds the processor spent handling one order.created (records and the reservation transaction), by outcome.",
		labelNames: ["outcome"],
		unit: "second",
		buckets: PROCESSING_DURATION_BUCKETS
	},
	{
		type: "counter",
		name: MetricNames.StockReservations,
		description: "Stock reservations by outcome (reserved, insufficient_stock, unknown_sku), and releases by compensations (released).",
		labelNames: ["outcome"]
	},
	{
		type: "gauge",
		name: MetricNames.OutboxPendingEvents,
		description: "Outbox events not yet published (nor marked failed), by the service that wrote them.",
		labelNames: ["service"]
	},
	{
		type: "gauge",
		name: MetricNames.OutboxOldestPendingAge,
		description: "Age in seconds of the oldest outbox event not yet published, by service; 0 when none is pending.",
		labelNames: ["service"],
		unit: "second"
	},
	{
		type: "counter",
		name: MetricNames.EventRetries,
		description: "Retries of a failed event handler, by event and consumer group.",
		labelNames: ["event", "group"]
	},
	{
		type: "counter",
		name: MetricNames.DeadLetters,
		description: "Events dead-lettered (with a broker) or marked failed in the outbox (without), by event, group and reason.",
		labelNames: ["event", "group", "reason"]
	},
	{
		type: "gauge",
		name: MetricNames.DeadLettersPending,
		description: "Dead letters waiting to be replayed or purged, by event and group (the dead-letter queues, or the outboxes' failed rows).",
		labelNames: ["event", "group"]
	},
	{
		type: "counter",
		name: MetricNames.BusPacketsRejected,
		description: "Bus packets refused unhandled: signature (not signed with the cluster key), stale (sent outside the time window), replay (received before).",
		labelNames: ["reason"]
	}
];

/** The brokers whose registry holds the business metrics already. */
const registered = new WeakSet<ServiceBroker>();

function enabled(broker: ServiceBroker | undefined | null): broker is ServiceBroker {
	if (!broker?.metrics?.isEnabled()) return false;
	registerBusinessMetrics(broker);
	return true;
}

/**
 * Registers every business metric in the broker's registry, once (a second call changes nothing),
 * and makes the series of the fixed label sets exist at 0, so that a scrape shows them before the
 * first order and `rate()` has a start.
 */
export function registerBusinessMetrics(broker: ServiceBroker): void {
	if (!broker.metrics?.isEnabled() || registered.has(broker)) return;
	registered.add(broker);
	const registry = broker.metrics;
	for (const definition of BUSINESS_METRICS) {
		if (registry.hasMetric(definition.name)) continue;
		registry.register({ ...definition } as Parameters<typeof registry.register>[0]);
	}
	registry.increment(MetricNames.OrdersCreated, {}, 0);
	for (const status of OUTCOME_STATUSES) registry.increment(MetricNames.OrdersFinished, { status }, 0);
	for (const outcome of RESERVATION_OUTCOMES) registry.increment(MetricNames.StockReservations, { outcome }, 0);
	for (const reason of PACKET_REJECTION_REASONS) registry.increment(MetricNames.BusPacketsRejected, { reason }, 0);
	for (const [event, group] of Object.entries(ConsumerGroups)) {
		registry.increment(MetricNames.EventRetries, { event, group }, 0);
		for (const reason of DEAD_LETTER_REASONS) registry.increment(MetricNames.DeadLetters, { event, group, reason }, 0);
	}
}

/** Registers the business metrics when the broker is created, whatever services it runs. */
export function BusinessMetricsMiddleware(): Middleware {
	return {
		name: "BusinessMetrics",
		created(broker: ServiceBroker) {
			registerBusinessMetrics(broker);
		}
	} as unknown as Middleware;
}

function secondsSince(from: Date | string | number, now: Date): number {
	const start = from instanceof Date ? from.getTime() : new Date(from).getTime();
	return Number.isFinite(start) ? Math.max(0, (now.getTime() - start) / 1000) : 0;
}

/** An order was created and committed (not an Idempotency-Key replay). */
export function recordOrderCreated(broker: ServiceBroker): void {
	if (enabled(broker)) broker.metrics.increment(MetricNames.OrdersCreated, {});
}

/** True for the statuses `orders_finished_total` counts: an outcome of the saga. */
export function isOutcomeStatus(status: string): status is OutcomeStatus {
	return (OUTCOME_STATUSES as readonly string[]).includes(status);
}

/** An order reached an outcome status (committed): counted, and its saga's duration observed. */
export function recordOrderFinished(broker: ServiceBroker, status: OutcomeStatus, createdAt: Date | string, now = new Date()): void {
	if (!enabled(broker)) return;
	broker.metrics.increment(MetricNames.OrdersFinished, { status });
	broker.metrics.observe(MetricNames.OrderSagaDuration, secondsSince(createdAt, now), { status });
}

/** The processor handled one `order.created` in `seconds`, reserving its stock or failing it. */
export function recordProcessing(broker: ServiceBroker, outcome: ProcessingOutcome, seconds: number): void {
	if (enabled(broker)) broker.metrics.observe(MetricNames.ProcessorProcessingDuration, seconds, { outcome });
}

/** A reservation was decided (and committed), or a compensation released an order's stock. */
export function recordStockReservation(broker: ServiceBroker, outcome: ReservationOutcome): void {
	if (enabled(broker)) broker.metrics.increment(MetricNames.StockReservations, { outcome });
}

/** What one service's outbox holds unpublished. */
export interface OutboxLag {
	pending: number;
	oldestPendingAgeSeconds: number;
}

/** Sets the outbox gauges of one service. */
export function setOutboxLag(broker: ServiceBroker, service: string, lag: OutboxLag): void {
	if (!enabled(broker)) return;
	broker.metrics.set(MetricNames.OutboxPendingEvents, lag.pending, { service });
	broker.metrics.set(MetricNames.OutboxOldestPendingAge, lag.oldestPendingAgeSeconds, { service });
}

/** A failed event handler is run again (after its backoff). */
export function recordEventRetry(broker: ServiceBroker, event: string, group: string): void {
	if (enabled(broker)) broker.metrics.increment(MetricNames.EventRetries, { event, group });
}

/** The kind of the error an event was given up on, for `dead_letters_total{reason}`. */
export function deadLetterKind(error: unknown): DeadLetterKind {
	if (error instanceof Errors.ValidationError || (error as { type?: unknown })?.type === "VALIDATION_ERROR") return "validation";
	if ((error as { type?: unknown })?.type === "MALFORMED_MESSAGE") return "malformed";
	if ((error as { type?: unknown })?.type === "BUS_PACKET_REJECTED") return "signature";
	if (error instanceof Errors.MoleculerClientError) return "rule";
	return "transient";
}

/** An event was dead-lettered (or marked failed in its outbox) after `error`. */
export function recordDeadLetter(broker: ServiceBroker, event: string, group: string, error: unknown): void {
	if (enabled(broker)) broker.metrics.increment(MetricNames.DeadLetters, { event, group, reason: deadLetterKind(error) });
}

/** A bus packet was refused unhandled. */
export function recordPacketRejected(broker: ServiceBroker, reason: (typeof PACKET_REJECTION_REASONS)[number]): void {
	if (enabled(broker)) broker.metrics.increment(MetricNames.BusPacketsRejected, { reason });
}

/** How many dead letters one event group holds. */
export interface DeadLetterDepth {
	event: string;
	group: string;
	count: number;
}

/**
 * Sets `dead_letters_pending` to the counts just read: every group named, and 0 for each group
 * shown before that the counts no longer name (its last dead letter was replayed or purged).
 */
export function setDeadLettersPending(broker: ServiceBroker, depths: DeadLetterDepth[]): void {
	if (!enabled(broker)) return;
	const gauge = broker.metrics.getMetric(MetricNames.DeadLettersPending);
	const counts = new Map<string, DeadLetterDepth>();
	for (const depth of depths) {
		const key = JSON.stringify([depth.event, depth.group]);
		const seen = counts.get(key);
		counts.set(key, { ...depth, count: (seen?.count ?? 0) + depth.count });
	}
	for (const item of gauge?.snapshot() ?? []) {
		const labels = item.labels as { event: string; group: string };
		const key = JSON.stringify([labels.event, labels.group]);
		if (!counts.has(key)) counts.set(key, { event: labels.event, group: labels.group, count: 0 });
	}
	for (const { event, group, count } of counts.values()) broker.metrics.set(MetricNames.DeadLettersPending, count, { event, group });
}
