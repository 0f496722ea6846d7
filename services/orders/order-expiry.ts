/**
 * The expiry of the orders saga: a pending order that no answer reached within ORDER_TIMEOUT_MS
 * expires, and its compensation is queued with it: the processor is asked to undo what it did
 * (`order.cancelled`, cause "expired"). Several instances may sweep one database: each order
 * expires once.
 */
import type { Logger } from "moleculer";
import type { Sequelize, Transaction } from "sequelize";
import type { Clock } from "../../lib/clock";
import { OrderStatus } from "../../lib/contracts/orders";
import { isOutcomeStatus } from "../../lib/metrics/business-metrics";
import { HistorySteps, OrderTriggers, decideOrder, statusesMovedBy, type EmittedCancellation } from "./orders.domain";
import { expireOverdueOrders, recordHistory, type NewHistoryEntry } from "./orders.repository";
import type { OrderMetrics } from "./order-saga.types";

/** Orders expired per sweeper transaction. */
const EXPIRY_BATCH_SIZE = 100;

/** Queues the `order.cancelled` events of a decision in the transaction `t`; the first one's id, if any. */
export type QueueCancellations = (
	t: Transaction,
	order: { id: string; correlationId: string },
	emit: EmittedCancellation[],
	reason: string | undefined,
	at: Date
) => Promise<string | null>;

/** What the expiry needs: the database, the clock, the metrics and the saga's compensation step. */
export interface OrderExpiryDeps {
	db(): Sequelize;
	clock: Clock;
	metrics: OrderMetrics;
	logger: Logger;
	nodeID: string;
	/** How long an order may stay `pending` (ORDER_TIMEOUT_MS). */
	orderTimeoutMs: number;
	queueCancellations: QueueCancellations;
}

/**
 * Expires the orders no answer reached within the timeout, by the clock, a batch per transaction:
 * the SQL carries out what the state machine decides for a pending order that timed out (its
 * status condition and row locks make each order expire once, whichever instance sweeps), and
 * each order gets its `order.cancelled` and its history entry. Returns how many expired.
 */
export async function expireOverdue(deps: OrderExpiryDeps): Promise<number> {
	const expiry = decideOrder({ id: "", status: OrderStatus.Pending, errorMessage: null }, OrderTriggers.TimedOut);
	if (expiry.outcome !== "apply") return 0;
	const from = statusesMovedBy(OrderTriggers.TimedOut);
	let total = 0;
	for (;;) {
		const db = deps.db();
		const now = new Date(deps.clock.now());
		const expired = await db.transaction(async t => {
			const rows = await expireOverdueOrders(db, t, {
				from,
				to: expiry.next,
				createdBefore: new Date(now.getTime() - deps.orderTimeoutMs),
				at: now,
				limit: EXPIRY_BATCH_SIZE
			});
			const entries: NewHistoryEntry[] = [];
			for (const row of rows) {
				const order = { id: row.id, correlationId: row.correlation_id };
				entries.push({
					orderId: row.id,
					step: HistorySteps.Expired,
					status: expiry.next,
					eventId: await deps.queueCancellations(t, order, expiry.emit, undefined, now),
					correlationId: row.correlation_id,
					nodeID: deps.nodeID,
					detail: { timeoutMs: deps.orderTimeoutMs }
				});
			}
			await recordHistory(db, t, entries);
			return rows;
		});
		const expiredAt = new Date(deps.clock.now());
		for (const row of expired) {
			if (isOutcomeStatus(expiry.next)) deps.metrics.orderFinished(expiry.next, row.created_at, expiredAt);
			deps.logger.info("Order expired: no answer came in time.", { orderId: row.id, correlationId: row.correlation_id, status: expiry.next });
		}
		total += expired.length;
		if (expired.length < EXPIRY_BATCH_SIZE) return total;
	}
}

