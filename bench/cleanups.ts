/**
 * The undo list of a bench run: every process, database, vhost and temp dir is registered here the
 * moment it exists, so a failure, Ctrl-C or the watchdog removes exactly what the run made.
 */

/** Undo steps, run newest first; each runs at most once. */
export class Cleanups {
	private steps: Array<{ name: string; run: () => Promise<void> }> = [];
	private inFlight = new Set<Promise<void>>();
	/** Set once the bench is being stopped (signal, watchdog): nothing new may start. */
	stopping = false;

	constructor(private readonly log: (message: string) => void) {}

	add(name: string, run: () => Promise<void>): void {
		this.steps.push({ name, run });
		// Something created while the bench is being stopped is undone at once.
		if (this.stopping) void this.runDownTo(0);
	}

	get mark(): number {
		return this.steps.length;
	}

	/** Runs (and forgets) every step added after `mark`, and waits for steps another caller is running. */
	async runDownTo(mark = 0): Promise<void> {
		while (this.steps.length > mark) {
			const step = this.steps.pop()!;
			const running = step.run().catch(err => this.log(`cleanup '${step.name}' failed: ${(err as Error).message}`));
			this.inFlight.add(running);
			await running;
			this.inFlight.delete(running);
		}
		await Promise.all(this.inFlight);
	}
}
