/**
 * Crash points for the failure tests: a node started with `FAULT_POINTS=<name>[,<name>…]` kills
 * itself with SIGKILL the first time its code reaches one of those points — no cleanup, no flush,
 * exactly like a power cut at that line. Unset (always, outside those tests), a point does nothing.
 */
export const FaultPoints = {
	/** orders/processor: an outbox row is committed and claimed, and not yet published. */
	OutboxBeforePublish: "outbox.before-publish",
	/** processor: the stock is reserved and the answer committed, and the message not yet acknowledged. */
	ProcessorAfterCommit: "processor.after-commit"
} as const;

/** Kills this process at once when `point` is among the configured ones. */
export function hitFaultPoint(configured: readonly string[] | undefined, point: string): void {
	if (configured?.includes(point)) process.kill(process.pid, "SIGKILL");
}
