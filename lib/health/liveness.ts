/**
 * Liveness of one node: whether restarting its process would help. It answers from the event
 * loop (a blocked loop does not answer at all, and the probe times out) and fails only when the
 * broker is stuck stopping. A database or broker outage leaves it live — readiness takes the node
 * out of service then, and a restart would mend nothing while it would drop the work under way. A
 * start that hangs is the startup probe's to see (it asks readiness): liveness is not asked until
 * the node was ready once. See docs/health.md.
 */
import type { ServiceBroker } from "moleculer";
import { clockOf } from "../clock";

/** How long a broker may be stopping before liveness fails: longer than any clean stop takes. */
export const LIVE_MAX_STOPPING_MS = 60_000;

export type LivenessPhase = "starting" | "started" | "stopping";

export interface LivenessReport {
	status: "ok" | "stuck";
	phase: LivenessPhase;
	detail?: string;
}

/** The phase of a broker, from Moleculer's own flags. */
export function brokerPhase(broker: Pick<ServiceBroker, "started" | "stopping">): LivenessPhase {
	if (broker.stopping) return "stopping";
	return broker.started ? "started" : "starting";
}

/**
 * One node's liveness. The time a stop began is the first probe that saw it: a stop hangs for at
 * most {@link LIVE_MAX_STOPPING_MS} plus one probe period before liveness fails.
 */
export class LivenessProbe {
	private stoppingSince?: number;

	constructor(
		private readonly phase: () => LivenessPhase,
		private readonly now: () => number = Date.now,
		private readonly maxStoppingMs: number = LIVE_MAX_STOPPING_MS
	) {}

	/** The node's liveness, now. */
	get(): LivenessReport {
		const phase = this.phase();
		if (phase !== "stopping") {
			this.stoppingSince = undefined;
			return { status: "ok", phase };
		}
		this.stoppingSince ??= this.now();
		const stoppingForMs = this.now() - this.stoppingSince;
		if (stoppingForMs <= this.maxStoppingMs) return { status: "ok", phase };
		return {
			status: "stuck",
			phase,
			detail: `The broker has been stopping for ${Math.round(stoppingForMs / 1000)} s, more than ${this.maxStoppingMs / 1000} s: its stop hangs.`
		};
	}
}

const probes = new WeakMap<ServiceBroker, LivenessProbe>();

/** The liveness probe of a node (one per broker), on the clock of its services (lib/clock.ts). */
export function nodeLiveness(broker: ServiceBroker): LivenessProbe {
	let probe = probes.get(broker);
	if (!probe) probes.set(broker, (probe = new LivenessProbe(() => brokerPhase(broker), () => clockOf(broker).now())));
	return probe;
}
