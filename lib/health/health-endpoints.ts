/**
 * `/health/live` and `/health/ready` on a node's metrics port, for Kubernetes probes and operators:
 * every node serves them, whether it runs the api or not. Unlike the public `/api/health/ready`,
 * the readiness answer here names each check and each local outbox's lag; the metrics port is
 * bound to METRICS_HOST (loopback by default), out of the public's reach.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { describeFailures, type ReadinessReport } from "./readiness";
import type { LivenessReport } from "./liveness";

export const HEALTH_LIVE_PATH = "/health/live";
export const HEALTH_READY_PATH = "/health/ready";

const ALLOWED = ["GET", "HEAD"];

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: object): void {
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
	res.end(req.method === "HEAD" ? undefined : JSON.stringify(body));
}

/**
 * Answers a health request and returns true; returns false for any other path (the caller serves
 * it). `readiness` gives the node's readiness (cached: see ReadinessProbe), `liveness` its liveness
 * (lib/health/liveness.ts); without it, a node that answers is live.
 */
export function answerHealthRequest(
	req: IncomingMessage,
	res: ServerResponse,
	readiness: () => Promise<ReadinessReport>,
	liveness: () => LivenessReport = () => ({ status: "ok", phase: "started" })
): boolean {
	const path = (req.url ?? "/").split("?")[0];
	if (path !== HEALTH_LIVE_PATH && path !== HEALTH_READY_PATH) return false;
	if (!ALLOWED.includes(req.method ?? "GET")) {
		res.setHeader("Allow", ALLOWED.join(", "));
		sendJson(req, res, 405, { status: "error", detail: `${path} answers ${ALLOWED.join(" and ")} only.` });
		return true;
	}
	if (path === HEALTH_LIVE_PATH) {
		// A live node answers `{ status: "ok" }` alone, as it always did; a stuck one says why.
		const report = liveness();
		if (report.status === "ok") sendJson(req, res, 200, { status: "ok" });
		else sendJson(req, res, 503, report);
		return true;
	}
	readiness().then(
		report => {
			if (report.status === "ok") return sendJson(req, res, 200, report);
			sendJson(req, res, 503, { status: report.status, detail: `This node is not ready: ${describeFailures(report.checks)}.`, checks: report.checks, ...(report.outbox ? { outbox: report.outbox } : {}) });
		},
		(err: Error) => sendJson(req, res, 503, { status: "unavailable", detail: `The readiness check failed: ${err.message}` })
	);
	return true;
}
