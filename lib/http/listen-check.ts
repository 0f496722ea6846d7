/**
 * Whether a node can listen where it is configured to, checked before its broker starts: Moleculer's
 * Prometheus reporter listens from the broker's constructor without an `error` listener, so a busy
 * port crashes the process with Node's raw `Unhandled 'error' event` stack, and moleculer-web's
 * answer names neither the variable nor the way out.
 */
import { createServer } from "node:net";
import { StartupError } from "../startup-error";

/** One server of the node: its port and bind address, and the variables that set them. */
export interface ListenTarget {
	/** The variable that sets the port, e.g. `METRICS_PORT`. */
	portVariable: string;
	/** The variable that sets the bind address, e.g. `METRICS_HOST`. */
	hostVariable: string;
	port: number;
	host: string;
	/** What else than another port the operator may choose, e.g. "or METRICS_PORT=off to serve no metrics". */
	alternative?: string;
}

/** The one line that says why a node cannot listen on `target`, and what to do. */
export function listenProblem(target: ListenTarget, err: NodeJS.ErrnoException): string {
	const { portVariable, hostVariable, port, host } = target;
	const choose = `start this node with ${portVariable}=<a free port>${target.alternative ? `, ${target.alternative}` : ""}`;
	switch (err.code) {
		case "EADDRINUSE":
			return `${portVariable}=${port} is in use: another process listens on ${host}:${port}. Stop that process, or ${choose}.`;
		case "EACCES":
			return `${portVariable}=${port} may not be listened on by this user (ports below 1024 need privileges): ${choose}.`;
		case "EADDRNOTAVAIL":
			return `${hostVariable}=${host} is not an address of this machine: set ${hostVariable} to one of its addresses, e.g. 0.0.0.0 or 127.0.0.1.`;
		default:
			return `This node cannot listen on ${host}:${port} (${portVariable}, ${hostVariable}): ${err.message}.`;
	}
}

/** Listens on `target` for a moment; fails with a {@link StartupError} saying why it cannot. Port 0 always can. */
export function checkCanListen(target: ListenTarget): Promise<void> {
	if (target.port === 0) return Promise.resolve();
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", (err: NodeJS.ErrnoException) => reject(new StartupError(listenProblem(target, err))));
		server.listen(target.port, target.host, () => server.close(() => resolve()));
	});
}
