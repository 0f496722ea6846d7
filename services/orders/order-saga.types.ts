/**
 * What the orders saga is built from: its dependencies, stated once, so that its modules
 * (order-saga.ts, order-expiry.ts, order-idempotency.ts) and the service that builds it share them.
 */
import type { Logger, ServiceBroker } from "moleculer";
import type { Sequelize } from "sequelize";
import type { Clock } from "../../lib/clock";
import { recordOrderCreated, recordOrderFinished, type OutcomeStatus } from "../../lib/metrics/business-metrics";
import type { OutboxPort } from "../../mixins/outbox.types";
import type { OrderModel } from "./orders.model";

/** The business metrics the saga records. */
export interface OrderMetrics {
	/** An order was created and committed (not an Idempotency-Key replay). */
	orderCreated(): void;
	/** An order reached an outcome status at `at` (committed). */
	orderFinished(status: OutcomeStatus, createdAt: Date | string, at: Date): void;
}

/** The metrics recorders of lib/metrics/business-metrics.ts, bound to `broker`. */
export function orderMetricsOf(broker: ServiceBroker): OrderMetrics {
	return {
		orderCreated: () => recordOrderCreated(broker),
		orderFinished: (status, createdAt, at) => recordOrderFinished(broker, status, createdAt, at)
	};
}

/** The saga's settings, as the orders service's settings name them. */
export interface OrderSagaSettings {
	/** How long an order may stay `pending` before it expires (ORDER_TIMEOUT_MS). */
	orderTimeoutMs: number;
	/** How long an Idempotency-Key answers with its first order (IDEMPOTENCY_KEY_TTL_MS). */
	idempotencyKeyTtlMs: number;
	/** How long a consumed event id is remembered for deduplication (INBOX_RETENTION_MS). */
	inboxRetentionMs: number;
}

/** Everything the saga uses, given explicitly by the service that builds it. */
export interface OrderSagaDeps {
	/** The orders database; a function, as it is connected after the saga is built. */
	db(): Sequelize;
	/** The orders model, defined once the database is connected. */
	model(): OrderModel;
	/** True while the database is connected: the saga's timers skip their work otherwise. */
	ready(): boolean;
	outbox: OutboxPort;
	clock: Clock;
	metrics: OrderMetrics;
	logger: Logger;
	nodeID: string;
	/** The service's settings, read at each use. */
	settings: OrderSagaSettings;
}
