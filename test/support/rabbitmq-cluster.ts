/**
 * A RabbitMQ cluster of three nodes started on this machine for one test, next to the machine's own
 * broker and apart from it: its own node names, AMQP and distribution ports, configuration, data
 * and log folders under a temporary folder, removed with it. Started with `rabbitmq-server` and
 * joined with `rabbitmqctl join_cluster`, as an operator would.
 *
 * The nodes share the Erlang cookie of the machine's broker without touching it: run as root,
 * `rabbitmq-server` and `rabbitmqctl` switch to the `rabbitmq` user, whose cookie every one of them
 * reads. So the folders belong to that user.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, uniqueSuffix, waitFor } from "./services";

const run = promisify(execFile);

/** Where the Debian package puts the server's scripts; PATH is searched first. */
const SBIN = "/usr/sbin";

export interface RabbitNode {
	/** `rmq-<letter>-<suffix>@localhost`. */
	name: string;
	amqpPort: number;
	distPort: number;
	dir: string;
	/** The `rabbitmq-server` process (through `su` when run as root); the Erlang VM's pid is in `pid`. */
	child: ChildProcess;
	output: string;
	stopped: boolean;
}

export interface QueueState {
	name: string;
	type: string;
	leader: string;
	messages: number;
}

/** The path of a RabbitMQ command, or undefined when the server is not installed here. */
export function rabbitmqCommand(command: "rabbitmq-server" | "rabbitmqctl"): string | undefined {
	for (const dir of [...(process.env.PATH ?? "").split(":"), SBIN]) {
		if (dir && existsSync(join(dir, command))) return join(dir, command);
	}
	return undefined;
}

export class RabbitMqCluster {
	readonly nodes: RabbitNode[] = [];
	private root = "";

	constructor(private readonly size = 3) {}

	/** Starts the nodes, joins them into one cluster, and waits until every one runs in it. */
	async start(timeoutMs = 90_000): Promise<void> {
		const server = rabbitmqCommand("rabbitmq-server");
		if (!server || !rabbitmqCommand("rabbitmqctl")) throw new Error("rabbitmq-server or rabbitmqctl is not installed on this machine.");
		this.root = mkdtempSync(join(tmpdir(), "rmq-cluster-"));
		this.ownForBroker(this.root);
		const suffix = uniqueSuffix();
		for (let i = 0; i < this.size; i++) {
			const letter = String.fromCharCode(97 + i);
			this.nodes.push(this.spawnNode(server, `rmq-${letter}-${suffix}@localhost`, join(this.root, letter), await freePort(), await freePort()));
		}
		await Promise.all(this.nodes.map(node => this.awaitStartup(node, timeoutMs)));
		const [first, ...others] = this.nodes;
		for (const node of others) {
			await this.ctl(node, "stop_app");
			await this.ctl(node, "join_cluster", first.name);
			await this.ctl(node, "start_app");
		}
		await waitFor(
			`${this.size} running nodes in the cluster`,
			async () => {
				const status = JSON.parse(await this.ctl(first, "cluster_status", "--formatter", "json")) as { running_nodes: string[] };
				return status.running_nodes.length === this.size;
			},
			timeoutMs,
			500
		);
	}

	/** The AMQP URLs of the nodes, in order, for the guest user and `vhost`. */
	urls(vhost = "/"): string[] {
		const path = vhost === "/" ? "" : `/${encodeURIComponent(vhost)}`;
		return this.nodes.map(node => `amqp://guest:guest@127.0.0.1:${node.amqpPort}${path}`);
	}

	/** Runs `rabbitmqctl -n <node> -q …` and returns its output. */
	async ctl(node: RabbitNode, ...args: string[]): Promise<string> {
		const { stdout } = await run(rabbitmqCommand("rabbitmqctl")!, ["-n", node.name, "-q", ...args], { timeout: 60_000, encoding: "utf8" });
		return stdout;
	}

	/** The queues of `vhost` as the given node (any running one) sees them. */
	async queues(node: RabbitNode = this.running()[0], vhost = "/"): Promise<QueueState[]> {
		const out = await this.ctl(node, "list_queues", "-p", vhost, "--formatter", "json", "name", "type", "leader", "messages");
		return (JSON.parse(out) as Array<{ name: string; type: string; leader: string; messages: number | string }>).map(q => ({
			...q,
			messages: Number(q.messages)
		}));
	}

	/** The nodes not stopped. */
	running(): RabbitNode[] {
		return this.nodes.filter(node => !node.stopped);
	}

	/** The node of this cluster named `name`. */
	node(name: string): RabbitNode {
		const node = this.nodes.find(n => n.name === name);
		if (!node) throw new Error(`No node '${name}' in this cluster: ${this.nodes.map(n => n.name).join(", ")}`);
		return node;
	}

	/** Shuts a node down as an operator does (`rabbitmqctl shutdown` waits for its VM to exit). */
	async stopNode(node: RabbitNode): Promise<void> {
		node.stopped = true;
		await this.ctl(node, "shutdown");
	}

	/** Stops every node still running (killing one that does not stop), then removes their folders. */
	async tearDown(): Promise<void> {
		await Promise.all(
			this.nodes.map(async node => {
				if (!node.stopped) {
					node.stopped = true;
					await this.ctl(node, "shutdown").catch(() => this.kill(node));
				}
				if (node.child.exitCode === null && node.child.signalCode === null) {
					await Promise.race([new Promise(resolve => node.child.once("exit", resolve)), new Promise(resolve => setTimeout(resolve, 10_000).unref())]);
				}
			})
		);
		if (this.root) rmSync(this.root, { recursive: true, force: true });
	}

	/** The last lines each node printed, and its log, for a failure message. */
	describe(): string {
		return this.nodes
			.map(node => {
				const log = join(node.dir, "log", `${node.name}.log`);
				const tail = existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-30).join("\n") : "";
				return `--- ${node.name} (amqp ${node.amqpPort}) ---\n${node.output.slice(-1500)}\n${tail}`;
			})
			.join("\n");
	}

	private spawnNode(server: string, name: string, dir: string, amqpPort: number, distPort: number): RabbitNode {
		mkdirSync(dir);
		const file = (base: string, content: string) => {
			writeFileSync(join(dir, base), content);
			return join(dir, base);
		};
		// Own files for everything the machine's broker configures: /etc/rabbitmq/rabbitmq.conf would
		// make every node listen on 5672, and its rabbitmq-env.conf names the node `rabbit`.
		const env: Record<string, string> = {
			PATH: process.env.PATH ?? "",
			RABBITMQ_NODENAME: name,
			RABBITMQ_NODE_PORT: String(amqpPort),
			RABBITMQ_DIST_PORT: String(distPort),
			RABBITMQ_CONF_ENV_FILE: file("rabbitmq-env.conf", ""),
			RABBITMQ_CONFIG_FILE: file("rabbitmq.conf", `listeners.tcp.local = 127.0.0.1:${amqpPort}\nloopback_users.guest = true\n`),
			RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"),
			// No plugin: the management plugin would take the machine's broker's port 15672.
			RABBITMQ_ENABLED_PLUGINS_FILE: file("enabled_plugins", "[].\n"),
			RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
			RABBITMQ_LOG_BASE: join(dir, "log"),
			RABBITMQ_PID_FILE: join(dir, "pid"),
			ERL_EPMD_ADDRESS: "127.0.0.1",
			// The distribution port on the loopback interface only, as the machine's broker has it.
			RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}"
		};
		this.ownForBroker(dir, true);
		const child = spawn(server, [], { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
		const node: RabbitNode = { name, amqpPort, distPort, dir, child, output: "", stopped: false };
		for (const stream of [child.stdout, child.stderr]) {
			stream?.setEncoding("utf8");
			stream?.on("data", (chunk: string) => (node.output += chunk));
		}
		return node;
	}

	private async awaitStartup(node: RabbitNode, timeoutMs: number): Promise<void> {
		await waitFor(
			`RabbitMQ node '${node.name}' to start`,
			async () => {
				if (node.child.exitCode !== null) throw new Error(`rabbitmq-server exited with ${node.child.exitCode}:\n${node.output.slice(-2000)}`);
				await this.ctl(node, "await_startup", "--timeout", "5");
				return true;
			},
			timeoutMs,
			500
		).catch(err => {
			throw new Error(`${(err as Error).message}\n${this.describe()}`);
		});
	}

	/** Kills a node's Erlang VM by the pid it wrote. */
	private kill(node: RabbitNode): void {
		const pidFile = join(node.dir, "pid");
		const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : NaN;
		try {
			if (pid > 0) process.kill(pid, "SIGKILL");
			node.child.kill("SIGKILL");
		} catch {
			/* already gone */
		}
	}

	/** Root starts the nodes as the `rabbitmq` user: that user must own their folders. */
	private ownForBroker(path: string, recursive = false): void {
		if (process.getuid?.() !== 0) return;
		const { uid, gid } = brokerUser();
		chownSync(path, uid, gid);
		if (recursive) for (const base of ["rabbitmq-env.conf", "rabbitmq.conf", "enabled_plugins"]) chownSync(join(path, base), uid, gid);
	}
}

/** The uid and gid of the `rabbitmq` user the package made. */
function brokerUser(): { uid: number; gid: number } {
	const line = readFileSync("/etc/passwd", "utf8")
		.split("\n")
		.find(l => l.startsWith("rabbitmq:"));
	if (!line) throw new Error(`No 'rabbitmq' user on this machine: run the test as that user or root (now ${userInfo().username}).`);
	const [, , uid, gid] = line.split(":");
	return { uid: Number(uid), gid: Number(gid) };
}
