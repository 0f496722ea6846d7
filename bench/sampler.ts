/**
 * What the `load` scenario watches while a step runs, every `intervalMs`: the orders the target has
 * created and finished and the unsent outbox rows of both its databases (SQL), and the CPU of every
 * process that works for the target (/proc).
 *
 * CPU attribution. Node processes and the load generator by pid. PostgreSQL by backend: each sample
 * lists the backends of the target's two databases in pg_stat_activity (the sampler's own two
 * connections left out) and reads /proc/<pid>/stat of each. A backend that exists when the step
 * starts counts from its first reading; one that starts during the step counts from zero (its start
 * time, from /proc, says so). A backend that ends between two samples loses what it used after the
 * last one — at most one interval of one connection; the product's and the baseline's pools keep
 * their connections, so this is rare. Autovacuum workers carry their database's name and count too;
 * PostgreSQL's shared processes (WAL writer, checkpointer) are not attributed. RabbitMQ is the
 * `beam.smp` process, whole: other users of the broker on this machine are counted in it.
 */
import { Client } from "pg";
import { findProcesses, readProcessTimes, readUptime } from "./infra";

export interface WatchedProcess {
	/** Where its CPU is reported, e.g. `node api,orders` or `postgres orders`. */
	account: string;
	pid: number;
}

export interface Sample {
	/** ms since the step began. */
	t: number;
	/** Orders created and finished (left `pending`) since the step began. */
	created: number;
	finished: number;
	/** Unsent outbox rows now. */
	outboxOrders: number;
	outboxProcessor: number;
}

export interface StepReading {
	startedAt: number;
	endedAt: number;
	samples: Sample[];
	/** CPU seconds per account over the step. */
	cpuSeconds: Record<string, number>;
	/** Backends seen per database account (how many distinct pids). */
	backends: Record<string, number>;
}

export interface TargetDatabases {
	ordersUrl: string;
	ordersName: string;
	processorUrl: string;
	processorName: string;
}

interface Tracked {
	account: string;
	/** CPU seconds at the last reading, and what was there when counting began. */
	last: number;
	first: number;
}

export class StepSampler {
	private timer?: NodeJS.Timeout;
	private tracked = new Map<number, Tracked>();
	private samples: Sample[] = [];
	private stepStart = { at: 0, uptime: 0, total: 0, finished: 0 };
	private fixed: WatchedProcess[] = [];
	private inFlight?: Promise<void>;
	private failure?: Error;
	private ownPids: number[] = [];
	private readonly accounts: Record<string, string>;
	latest: Sample = { t: 0, created: 0, finished: 0, outboxOrders: 0, outboxProcessor: 0 };
	/**
	 * Called after every sample, and awaited with it: the soak reads memory and table sizes at the
	 * same moments as the counts, so that its one series lines up, and on these same connections.
	 */
	onSample?: (sample: Sample) => Promise<void>;

	private constructor(
		private readonly orders: Client,
		private readonly processor: Client,
		private readonly databases: TargetDatabases,
		private readonly intervalMs: number
	) {
		this.accounts = { [databases.ordersName]: "postgres orders", [databases.processorName]: "postgres processor" };
	}

	static async open(databases: TargetDatabases, intervalMs = 250): Promise<StepSampler> {
		const orders = new Client({ connectionString: databases.ordersUrl });
		const processor = new Client({ connectionString: databases.processorUrl });
		await orders.connect();
		await processor.connect();
		const sampler = new StepSampler(orders, processor, databases, intervalMs);
		const own = await Promise.all([orders, processor].map(c => c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")));
		sampler.ownPids = own.map(r => r.rows[0].pid);
		return sampler;
	}

	/** Orders created in [from, to) (wall ms) and finished: count and saga latency percentiles (updated_at − created_at). */
	async sagaLatency(from: number, to: number): Promise<{ orders: number; failed: number; p50: number; p95: number; p99: number }> {
		const { rows } = await this.orders.query<{ orders: number; failed: number; p: number[] | null }>(
			`SELECT count(*)::int AS orders, count(*) FILTER (WHERE status = 'failed')::int AS failed,
			        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at) * 1000) AS p
			   FROM orders WHERE created_at >= $1 AND created_at < $2 AND status <> 'pending'`,
			[new Date(from), new Date(to)]
		);
		const p = rows[0].p ?? [NaN, NaN, NaN];
		return { orders: rows[0].orders, failed: rows[0].failed, p50: p[0], p95: p[1], p99: p[2] };
	}

	/** Orders still pending in the whole orders database. */
	async pending(): Promise<number> {
		const { rows } = await this.orders.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE status = 'pending'");
		return rows[0].n;
	}

	/**
	 * Rows of the named tables of each database, on the sampler's own connections (left out of the
	 * CPU). By default `n_live_tup` of pg_stat_user_tables: the backends count every insert and
	 * delete and report them within seconds, and reading it costs nothing however large the tables
	 * are; `reltuples` would only move when (auto)vacuum or analyze runs. `exact` counts them with
	 * count(*), which reads every row: once, at the end of a soak, not every few seconds.
	 */
	async tableRows(tables: { orders: string[]; processor: string[] }, exact = false): Promise<{ orders: Record<string, number>; processor: Record<string, number> }> {
		const read = async (client: Client, names: string[]) => {
			if (exact) {
				// One at a time: a pg client runs one query at once.
				const counts: Record<string, number> = {};
				for (const name of names) {
					const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${client.escapeIdentifier(name)}`);
					counts[name] = rows[0].n;
				}
				return counts;
			}
			const { rows } = await client.query<{ relname: string; n: string }>(
				"SELECT relname, n_live_tup AS n FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY($1)",
				[names]
			);
			const found = new Map(rows.map(r => [r.relname, Number(r.n)]));
			return Object.fromEntries(names.map(name => [name, found.get(name) ?? NaN]));
		};
		const [orders, processor] = await Promise.all([read(this.orders, tables.orders), read(this.processor, tables.processor)]);
		return { orders, processor };
	}

	/** Begins a step: takes the first reading and samples every interval until `end()`. */
	async begin(processes: WatchedProcess[]): Promise<void> {
		this.fixed = [...processes, ...findProcesses("beam.smp").map(pid => ({ account: "rabbitmq (beam.smp)", pid }))];
		this.tracked.clear();
		this.samples = [];
		this.failure = undefined;
		const counts = await this.counts();
		this.stepStart = { at: Date.now(), uptime: readUptime(), total: counts.total, finished: counts.finished };
		await this.readCpu(true);
		this.timer = setInterval(() => {
			if (this.inFlight) return;
			this.inFlight = this.sample()
				.catch(err => void (this.failure = err as Error))
				.finally(() => (this.inFlight = undefined));
		}, this.intervalMs);
	}

	/** Adds a process that started after `begin()` (the load generator); it counts from zero. */
	watch(process: WatchedProcess): void {
		this.fixed.push(process);
	}

	/** Takes a reading now (e.g. just before the load generator exits). */
	async sampleNow(): Promise<Sample> {
		await this.inFlight;
		await this.sample();
		return this.latest;
	}

	async end(): Promise<StepReading> {
		clearInterval(this.timer);
		await this.inFlight;
		await this.sample();
		if (this.failure) throw this.failure;
		const cpuSeconds: Record<string, number> = {};
		const backends: Record<string, number> = {};
		for (const t of this.tracked.values()) {
			cpuSeconds[t.account] = (cpuSeconds[t.account] ?? 0) + (t.last - t.first);
			if (t.account.startsWith("postgres")) backends[t.account] = (backends[t.account] ?? 0) + 1;
		}
		return { startedAt: this.stepStart.at, endedAt: Date.now(), samples: this.samples, cpuSeconds, backends };
	}

	async close(): Promise<void> {
		clearInterval(this.timer);
		await this.inFlight;
		await Promise.allSettled([this.orders.end(), this.processor.end()]);
	}

	private async counts(): Promise<{ total: number; finished: number; outboxOrders: number; outboxProcessor: number }> {
		const [orders, processor] = await Promise.all([
			this.orders.query<{ total: number; finished: number; unsent: number }>(
				`SELECT count(*)::int AS total, count(*) FILTER (WHERE status <> 'pending')::int AS finished,
				        (SELECT count(*)::int FROM outbox_events WHERE sent_at IS NULL) AS unsent
				   FROM orders`
			),
			this.processor.query<{ unsent: number }>("SELECT count(*)::int AS unsent FROM outbox_events WHERE sent_at IS NULL")
		]);
		const o = orders.rows[0];
		return { total: o.total, finished: o.finished, outboxOrders: o.unsent, outboxProcessor: processor.rows[0].unsent };
	}

	private async sample(): Promise<void> {
		const counts = await this.counts();
		await this.readCpu(false);
		this.latest = {
			t: Date.now() - this.stepStart.at,
			created: counts.total - this.stepStart.total,
			finished: counts.finished - this.stepStart.finished,
			outboxOrders: counts.outboxOrders,
			outboxProcessor: counts.outboxProcessor
		};
		this.samples.push(this.latest);
		await this.onSample?.(this.latest);
	}

	/** Reads every watched pid; `atStart`: what exists now counts from this reading, not from zero. */
	private async readCpu(atStart: boolean): Promise<void> {
		const { rows } = await this.orders.query<{ pid: number; datname: string }>(
			"SELECT pid, datname FROM pg_stat_activity WHERE datname = ANY($1) AND NOT pid = ANY($2)",
			[Object.keys(this.accounts), this.ownPids]
		);
		const current = [...this.fixed, ...rows.map(r => ({ account: this.accounts[r.datname], pid: r.pid }))];
		for (const { account, pid } of current) {
			let times: { cpuSeconds: number; startedAt: number };
			try {
				times = readProcessTimes(pid);
			} catch {
				continue; // ended: keeps its last reading
			}
			const known = this.tracked.get(pid);
			if (known) {
				known.last = times.cpuSeconds;
			} else {
				const bornInStep = !atStart && times.startedAt >= this.stepStart.uptime;
				const first = bornInStep ? 0 : times.cpuSeconds;
				this.tracked.set(pid, { account, first, last: times.cpuSeconds });
			}
		}
	}
}
