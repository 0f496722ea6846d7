/**
 * Readiness of one node for its own work, whatever services it runs: the database of each local
 * service, the broker when there is one, the lag of each local outbox, and — on a node without
 * orders of its own — that some orders node is known. Both the api's public `/api/health/ready`
 * (which tells `{ status }` only) and the metrics port's `/health/ready` (which tells everything)
 * read it, through one cache per node: a flood of probes costs one check a second.
 *
 * A service of another node is not checked: with every processor stopped, an orders node still
 * takes orders (they wait in RabbitMQ), so it must stay in service.
 */
import type { Logger, ServiceBroker } from "moleculer";
import { OUTBOX_LAG_ACTION } from "../contracts/dead-letters";
import type { OutboxLag } from "../metrics/business-metrics";

/** Readiness fails when a local outbox's oldest unpublished event is older than this (READY_MAX_OUTBOX_LAG_S). */
export const DEFAULT_READY_MAX_OUTBOX_LAG_S = 300;

/** How long one check may wait for a local action. */
const CHECK_TIMEOUT_MS = 3000;

/** How long a readiness answer is served again before the next check. */
export const READINESS_CACHE_MS = 1000;

/** What a check found: `ok`, or why not, per check; and each local outbox's lag. */
export interface ReadinessReport {
	status: "ok" | "unavailable";
	checks: Record<string, string>;
	/** Per local service with an outbox: events not yet published, and the oldest one's age. */
	outbox?: Record<string, OutboxLag>;
}

export interface ReadinessOptions {
	/** Readiness fails when a local outbox's oldest unpublished event is older (READY_MAX_OUTBOX_LAG_S); 0: not checked. */
	maxOutboxLagSeconds: number;
}

/** A local outbox's readiness check: `ok`, or how far its oldest unpublished event is past the bound. */
export function outboxLagState(lag: OutboxLag, maxLagSeconds: number): string {
	if (lag.oldestPendingAgeSeconds <= maxLagSeconds) return "ok";
	return `lagging (${lag.pending} event(s) unpublished, the oldest for ${Math.round(lag.oldestPendingAgeSeconds)} s; READY_MAX_OUTBOX_LAG_S is ${maxLagSeconds})`;
}

/** The failing checks in one line, e.g. `broker disconnected; ordersOutbox lagging (…)`. */
export function describeFailures(checks: Record<string, string>): string {
	return Object.entries(checks)
		.filter(([, state]) => state !== "ok")
		.map(([name, state]) => `${name} ${state}`)
		.join("; ");
}

/** Checks this node once, now. */
export async function checkReadiness(broker: ServiceBroker, options: ReadinessOptions): Promise<ReadinessReport> {
	const checks: Record<string, string> = {};
	const outbox: Record<string, OutboxLag> = {};
	const local = (service: string) => broker.getLocalService(service) !== undefined;
	// Untracked: a probe that timed out must not hold up this node's shutdown.
	const callLocal = <T>(action: string) => broker.call<T, object>(action, {}, { timeout: CHECK_TIMEOUT_MS, retries: 0, tracking: false, nodeID: broker.nodeID });
	const probe = async (name: string, action: string) => {
		try {
			await callLocal(action);
			checks[name] = "ok";
		} catch (err) {
			checks[name] = `unavailable (${(err as Error).message})`;
		}
	};
	const maxLag = options.maxOutboxLagSeconds;
	const lagOf = async (service: string) => {
		try {
			const lag = await callLocal<OutboxLag>(`${service}.${OUTBOX_LAG_ACTION}`);
			outbox[service] = lag;
			if (maxLag > 0) checks[`${service}Outbox`] = outboxLagState(lag, maxLag);
		} catch (err) {
			if (maxLag > 0) checks[`${service}Outbox`] = `unavailable (${(err as Error).message})`;
		}
	};
	await Promise.all([
		local("orders") ? probe("ordersDatabase", "orders.health") : undefined,
		local("processor") ? probe("processorDatabase", "processor.health") : undefined,
		...["orders", "processor"].filter(local).map(lagOf)
	]);
	// The transporter knows when its connection dropped; transit.connected stays true until a stop.
	if (broker.transit) checks.broker = broker.transit.tx.connected ? "ok" : "disconnected";
	// A gateway without orders of its own can take no order until it knows an orders node (just
	// started, or every one gone). The processor is not needed: orders wait in its queue.
	if (local("api") && !local("orders")) {
		const known = !(broker.findNextActionEndpoint("orders.create") instanceof Error);
		checks.ordersService = known ? "ok" : "no orders node is known";
	}
	const ready = Object.values(checks).every(state => state === "ok");
	return { status: ready ? "ok" : "unavailable", checks, ...(Object.keys(outbox).length > 0 ? { outbox } : {}) };
}

/**
 * One node's readiness, checked at most once per {@link READINESS_CACHE_MS}: callers within that
 * time (or while a check runs) share its answer. Logs when the node becomes unready and when it is
 * ready again, with the checks: the public answer does not say why.
 */
export class ReadinessProbe {
	private last?: { at: number; report: Promise<ReadinessReport> };
	private lastStatus?: ReadinessReport["status"];

	constructor(
		private readonly check: () => Promise<ReadinessReport>,
		private readonly logger?: Logger,
		private readonly now: () => number = Date.now,
		private readonly cacheMs: number = READINESS_CACHE_MS
	) {}

	/** The node's readiness, from a check at most `cacheMs` old (or the one running). */
	get(): Promise<ReadinessReport> {
		const now = this.now();
		if (this.last && now - this.last.at < this.cacheMs) return this.last.report;
		const report = this.check().then(result => {
			this.noteChange(result);
			return result;
		});
		this.last = { at: now, report };
		// A check never rejects (each failure is a check's state), but a bug must not be cached.
		report.catch(() => {
			if (this.last?.report === report) this.last = undefined;
		});
		return report;
	}

	private noteChange(report: ReadinessReport): void {
		if (report.status === this.lastStatus) return;
		const first = this.lastStatus === undefined;
		this.lastStatus = report.status;
		if (report.status === "unavailable") this.logger?.warn(`This node is not ready: ${describeFailures(report.checks)}.`, { checks: report.checks, outbox: report.outbox });
		else if (!first) this.logger?.info("This node is ready again.", { checks: report.checks });
	}
}

const probes = new WeakMap<ServiceBroker, Map<number, ReadinessProbe>>();

/**
 * The readiness probe of a node (one per broker and lag bound), shared by the api's action and
 * the metrics port, so that both together cost one check a second.
 */
export function nodeReadiness(broker: ServiceBroker, options: ReadinessOptions): ReadinessProbe {
	let byLag = probes.get(broker);
	if (!byLag) probes.set(broker, (byLag = new Map()));
	let probe = byLag.get(options.maxOutboxLagSeconds);
	if (!probe) {
		probe = new ReadinessProbe(() => checkReadiness(broker, options), broker.getLogger("readiness"));
		byLag.set(options.maxOutboxLagSeconds, probe);
	}
	return probe;
}
