/**
 * Diagnostic only, for the opt-in scenario `cluster-nodelay` (BENCH_SCENARIOS): loaded into the
 * product's processes with `node --require`, it turns Nagle's algorithm off on every TCP socket
 * (amqplib leaves it on unless `socketOptions.noDelay` is set). It shows how much of the cluster's
 * latency is TCP_NODELAY; it is not how the product runs.
 */
import { Socket } from "node:net";

const setNoDelay = Socket.prototype.setNoDelay;
Socket.prototype.setNoDelay = function (this: Socket) {
	return setNoDelay.call(this, true);
};
