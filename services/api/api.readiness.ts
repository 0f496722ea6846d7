/**
 * Readiness of this node (lib/health/readiness.ts) as the public may know it: `{ status: "ok" }`,
 * or a 503 problem that names nothing. Which check failed, and each outbox's lag, are on the
 * metrics port's `/health/ready`: a dependency's name or error message tells an attacker what to
 * hit.
 */
import type { ServiceBroker } from "moleculer";
import { nodeReadiness } from "../../lib/health/readiness";
import { NotReadyError } from "./api.errors";
import { PROBLEM_CONTENT_TYPE, toProblem } from "./problem";

/** Where the API answers readiness. */
const READY_PATH = "/api/health/ready";

/**
 * The answer of `GET /api/health/ready`; a 503 is set in `meta` as moleculer-web reads it. "Not
 * ready" is an answer, not an error: thrown, it would trip the circuit breaker of the action and
 * keep the node unready after its dependencies came back.
 */
export async function publicReadiness(
	broker: ServiceBroker,
	maxOutboxLagSeconds: number,
	meta: Record<string, unknown>
): Promise<Record<string, unknown>> {
	const report = await nodeReadiness(broker, { maxOutboxLagSeconds }).get();
	if (report.status === "ok") return { status: "ok" };
	const { problem } = toProblem(new NotReadyError(), { method: "GET", url: READY_PATH });
	meta.$statusCode = problem.status;
	meta.$responseType = PROBLEM_CONTENT_TYPE;
	return { ...problem, instance: READY_PATH };
}
