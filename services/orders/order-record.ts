/**
 * A new order as the create step writes it: its row, its `created` history step and its
 * `order.created` outbox row, for the one statement that inserts all three.
 */
import { randomUUID } from "node:crypto";
import { ConsumerGroups, Events } from "../../lib/contracts/events";
import { OrderStatus } from "../../lib/contracts/orders";
import { outboxRowValues } from "../../mixins/outbox.mixin";
import { HistorySteps, computeTotal, orderCreatedEvent, type NewOrder, type OrderRequest } from "./orders.domain";
import type { OrderRow } from "./orders.model";
import type { NewOrderRecord } from "./orders.repository";
import type { IdempotentRequest } from "./order-idempotency";
import type { OrdersMeta } from "./orders.types";

/** A new `pending` order created at `createdAt` by `nodeID`: its row and what inserts it. */
export function newOrderRecord(
	request: OrderRequest,
	meta: OrdersMeta,
	idempotency: IdempotentRequest | null,
	createdAt: Date,
	nodeID: string
): { row: OrderRow; record: NewOrderRecord } {
	const order: NewOrder = {
		id: randomUUID(),
		customerId: request.customerId,
		items: request.items,
		totalAmount: computeTotal(request.items),
		currency: request.currency,
		correlationId: meta.correlationId ?? randomUUID(),
		createdAt
	};
	const row: OrderRow = {
		...order,
		status: OrderStatus.Pending,
		errorMessage: null,
		idempotencyKey: idempotency?.key ?? null,
		idempotencyScope: idempotency?.scope ?? null,
		requestHash: idempotency?.fingerprint ?? null,
		updatedAt: createdAt
	};
	const event = orderCreatedEvent(order, randomUUID());
	const record: NewOrderRecord = {
		row,
		step: {
			step: HistorySteps.Created,
			eventId: event.eventId,
			nodeID,
			detail: { totalAmount: order.totalAmount, currency: order.currency, lines: order.items.length }
		},
		outbox: outboxRowValues(Events.OrderCreated, ConsumerGroups[Events.OrderCreated], event, { correlationId: order.correlationId })
	};
	return { row, record };
}
