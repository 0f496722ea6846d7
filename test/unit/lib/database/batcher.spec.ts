import { Batcher } from "../../../../lib/database/batcher";

/** A store that commits batches: what it holds is what a caller would see after the commit. */
function fakeStore(options: { failWhen?: (items: number[]) => boolean } = {}) {
	const committed: number[][] = [];
	const runBatch = async (items: number[]) => {
		await new Promise(resolve => setTimeout(resolve, 5));
		if (options.failWhen?.(items)) throw new Error(`batch ${items.join(",")} refused`);
		committed.push(items);
		return items.map(i => i * 10);
	};
	return { committed, runBatch, runOne: async (item: number) => (await runBatch([item]))[0] };
}

describe("Batcher", () => {
	it("should handle the items submitted together in one batch, and give each its own result", async () => {
		const store = fakeStore();
		const batcher = new Batcher({ ...store, maxBatch: 16 });

		const results = await Promise.all([1, 2, 3, 4].map(i => batcher.submit(i)));

		expect(results).toEqual([10, 20, 30, 40]);
		expect(store.committed).toEqual([[1, 2, 3, 4]]);
	});

	it("should never put more than maxBatch items in one batch, and take the ones that came meanwhile in the next", async () => {
		const store = fakeStore();
		const batcher = new Batcher({ ...store, maxBatch: 3 });

		const first = [1, 2, 3, 4, 5].map(i => batcher.submit(i));
		await new Promise(resolve => setTimeout(resolve, 1));
		const later = [6, 7].map(i => batcher.submit(i));
		await Promise.all([...first, ...later]);

		expect(store.committed.every(batch => batch.length <= 3)).toBe(true);
		expect(store.committed.flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
		expect(store.committed[0]).toEqual([1, 2, 3]);
	});

	it("should settle an item only after the batch that holds it committed", async () => {
		const store = fakeStore();
		const batcher = new Batcher({ ...store, maxBatch: 16 });

		const seen = await batcher.submit(7).then(() => store.committed.flat());

		expect(seen).toContain(7);
	});

	it("should retry a failed batch item by item, so that only the bad item fails", async () => {
		const store = fakeStore({ failWhen: items => items.includes(13) });
		const splits: Array<[string, number]> = [];
		const batcher = new Batcher({ ...store, maxBatch: 16, onSplit: (err, size) => splits.push([err.message, size]) });

		const results = await Promise.allSettled([12, 13, 14].map(i => batcher.submit(i)));

		expect(results.map(r => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
		expect((results[1] as PromiseRejectedResult).reason.message).toBe("batch 13 refused");
		expect(store.committed).toEqual([[12], [14]]);
		expect(splits).toEqual([["batch 12,13,14 refused", 3]]);
	});

	it("should keep going after a failure: the next submissions are handled", async () => {
		const store = fakeStore({ failWhen: items => items.includes(1) });
		const batcher = new Batcher({ ...store, maxBatch: 16 });

		await expect(batcher.submit(1)).rejects.toThrow("batch 1 refused");
		await expect(batcher.submit(2)).resolves.toBe(20);
		await batcher.idle();
	});
});
