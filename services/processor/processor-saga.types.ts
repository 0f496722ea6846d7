/**
 * What the processor's saga (processor-saga.ts) is built from, and what it makes of a new order, as
 * types: the dependencies the service hands it, the settings it reads, the metrics it records.
 */
import type { Logger } from "moleculer";
import type { Sequelize } from "sequelize";
import type { Clock } from "../../lib/clock";
import type { ProcessingOutcome, ReservationOutcome } from "../../lib/metrics/business-metrics";
import type { OutboxPort } from "../../mixins/outbox.types";
import type { IgnoreDecision, ReservationPlan } from "./processor.domain";

/** The business metrics the saga records (lib/metrics/business-metrics.ts, bound to a broker). */
export interface ProcessorMetrics {
	/** One `order.created` was handled in `seconds`, reserving its stock or failing it. */
	processing(outcome: ProcessingOutcome, seconds: number): void;
	/** A reservation was decided (and committed), or a compensation released an order's stock. */
	stockReservation(outcome: ReservationOutcome): void;
}

/** What the saga reads of the processor's settings. */
export interface ProcessorSagaSettings {
	/** Fill an empty stock table with the demo catalogue on start. */
	demoStock: boolean;
	/** `order.created` events handled in one transaction at most (PROCESSOR_BATCH_SIZE; its default when unset). */
	batchSize?: number;
	/** Crash points for the failure tests (lib/fault-points.ts). */
	faultPoints?: string[];
}

/** What the saga is built from. */
export interface ProcessorSagaDeps {
	/** The processor's Sequelize instance: a function, as the database connects after the saga is built. */
	db(): Sequelize;
	outbox: OutboxPort;
	clock: Clock;
	metrics: ProcessorMetrics;
	logger: Logger;
	/** Written into each history step: the node that took it. */
	nodeID: string;
	settings: ProcessorSagaSettings;
}

/** What became of one `order.created`: a reservation plan carried out, or an ignored redelivery. */
export type NewOrderOutcome = ReservationPlan | IgnoreDecision;
