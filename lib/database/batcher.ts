/**
 * Group commit for message handlers: the messages that arrive while a batch is being written are
 * handled together in the next one, in one transaction, instead of one transaction each. Each
 * message's promise settles only after the commit of the transaction that handled it, so the
 * transporter acknowledges it after the commit, as with one transaction a message.
 *
 * When a batch fails, nothing of it is committed; each of its messages is then handled on its own
 * (`runOne`), so one bad message fails alone and the others go through. With no concurrency (one
 * message at a time, as without a broker) a batch is a single message and costs nothing extra.
 */
export interface BatchOptions<I, R> {
	/** Handles several items in one transaction; one result per item, in their order. */
	runBatch(items: I[]): Promise<R[]>;
	/** Handles one item on its own (a batch of one, and each item of a failed batch). */
	runOne(item: I): Promise<R>;
	/** Items in one batch at most. */
	maxBatch: number;
	/** Told when a batch failed and its items are retried one by one. */
	onSplit?(error: Error, size: number): void;
}

interface Waiting<I, R> {
	item: I;
	resolve(result: R): void;
	reject(error: unknown): void;
}

export class Batcher<I, R> {
	private queue: Array<Waiting<I, R>> = [];
	private running: Promise<void> | null = null;

	private readonly maxBatch: number;

	constructor(private readonly options: BatchOptions<I, R>) {
		this.maxBatch = Math.max(1, Math.floor(options.maxBatch) || 1);
	}

	/** Handles `item` in the next batch; resolves with its result once that batch committed. */
	submit(item: I): Promise<R> {
		return new Promise<R>((resolve, reject) => {
			this.queue.push({ item, resolve, reject });
			if (!this.running) this.running = this.drain();
		});
	}

	/** Resolves once nothing is queued or being written. */
	async idle(): Promise<void> {
		while (this.running) await this.running;
	}

	/** Writes batches until the queue is empty; one batch at a time. */
	private async drain(): Promise<void> {
		// Let the messages delivered in the same tick join the first batch.
		await new Promise<void>(resolve => setImmediate(resolve));
		try {
			while (this.queue.length > 0) {
				const batch = this.queue.splice(0, this.maxBatch);
				await this.write(batch);
			}
		} finally {
			this.running = null;
		}
	}

	private async write(batch: Array<Waiting<I, R>>): Promise<void> {
		if (batch.length === 1) return this.writeOne(batch[0]);
		let results: R[];
		try {
			results = await this.options.runBatch(batch.map(w => w.item));
		} catch (err) {
			this.options.onSplit?.(err as Error, batch.length);
			for (const waiting of batch) await this.writeOne(waiting);
			return;
		}
		batch.forEach((waiting, i) => waiting.resolve(results[i]));
	}

	private async writeOne(waiting: Waiting<I, R>): Promise<void> {
		try {
			waiting.resolve(await this.options.runOne(waiting.item));
		} catch (err) {
			waiting.reject(err);
		}
	}
}
