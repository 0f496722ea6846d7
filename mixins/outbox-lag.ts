/**
 * How far behind one service's outbox is: how many events wait to be published, and how long the
 * oldest has waited. Read by readiness (`<service>.outboxLag`) and, every few seconds, by the relay
 * for the `outbox_pending_events` and `outbox_oldest_pending_age_seconds` gauges.
 */
import { QueryTypes, type Sequelize } from "sequelize";
import type { OutboxLag } from "../lib/metrics/business-metrics";

export type { OutboxLag };

/**
 * The unpublished events of the outbox, failed ones left out (they are dead letters, counted
 * apart). One aggregate over the rows the unsent index holds: those are few unless the relay is
 * stuck. The age comes from the database's clock, as `created_at` does.
 */
export async function readOutboxLag(db: Sequelize): Promise<OutboxLag> {
	const [row] = await db.query<{ pending: string | number; oldest_age: string | number | null }>(
		`SELECT count(*) AS pending, extract(epoch FROM now() - min(created_at)) AS oldest_age
		 FROM outbox_events WHERE sent_at IS NULL AND failed_at IS NULL`,
		{ type: QueryTypes.SELECT }
	);
	return {
		pending: Number(row?.pending ?? 0),
		oldestPendingAgeSeconds: Math.max(0, Math.round(Number(row?.oldest_age ?? 0) * 1000) / 1000)
	};
}

/** The failed (dead-lettered) events of the outbox, counted by event and consumer group. */
export async function countFailedEvents(db: Sequelize): Promise<Array<{ event: string; group: string; count: number }>> {
	const rows = await db.query<{ event_name: string; consumer_group: string; count: string | number }>(
		`SELECT event_name, consumer_group, count(*) AS count FROM outbox_events
		 WHERE failed_at IS NOT NULL GROUP BY event_name, consumer_group`,
		{ type: QueryTypes.SELECT }
	);
	return rows.map(row => ({ event: row.event_name, group: row.consumer_group, count: Number(row.count) }));
}
