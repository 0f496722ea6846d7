/**
 * Creates wait for their turn on an orders node (CREATE_CONCURRENCY at once, CREATE_QUEUE_SIZE
 * waiting), so that a flood of creates cannot take every database connection from the relay and
 * the answers. Past the queue a create is refused with a 503 the client may retry, and leaves
 * nothing behind. Here one create at a time, two waiting; the one being written is held in its
 * transaction (an Idempotency-Key create), so what waits and what is refused does not depend on timing.
 */
import { startSystem, type RunningSystem } from "../support/system";
import { holdNextCreate } from "../support/hold-create";

const order = (customerId: string) => ({ customerId, items: [{ sku: "SKU-0001", quantity: 1, unitPrice: 2 }], currency: "EUR" });

describe("Creates on an orders node at once (bulkhead)", () => {
	let system: RunningSystem;

	beforeAll(async () => {
		system = await startSystem({ env: { CREATE_CONCURRENCY: "1", CREATE_QUEUE_SIZE: "2" } });
	});
	afterAll(async () => {
		await system?.stop();
	});

	it("should let creates wait for their turn, refuse those past the queue with 503 and Retry-After, and store exactly the ones it answered 201", async () => {
		const held = holdNextCreate(system.service("orders"));
		const first = system.http().post("/api/orders").set("Idempotency-Key", "bulkhead-first").send(order("bulkhead-0")).then(r => r);
		await held.reached;

		// Five more at once: two wait for their turn, three are answered at once, while the first is still held.
		const others = [1, 2, 3, 4, 5].map(i =>
			system
				.http()
				.post("/api/orders")
				.send(order(`bulkhead-${i}`))
				.then(r => r)
		);
		const answeredFirst = await firstAnswers(others, 3);
		expect(answeredFirst).toHaveLength(3);
		for (const refused of answeredFirst) {
			expect(refused.status).toBe(503);
			expect(refused.headers["content-type"]).toContain("application/problem+json");
			expect(refused.headers["retry-after"]).toBe("1");
			expect(refused.body).toMatchObject({ status: 503, title: "Service busy" });
			expect(refused.body.detail).toContain("nothing was done");
		}

		held.release();
		const answers = [await first, ...(await Promise.all(others))];
		const created = answers.filter(r => r.status === 201).map(r => r.body.customerId as string);
		expect(created).toHaveLength(3);
		expect(created).toContain("bulkhead-0");

		// Only the orders answered 201 were stored: the refused ones left nothing.
		const list = await system.http().get("/api/orders?pageSize=100");
		expect(list.status).toBe(200);
		const stored = (list.body.rows as Array<{ customerId: string }>).map(o => o.customerId).filter(c => c.startsWith("bulkhead-"));
		expect(stored.sort()).toEqual([...created].sort());
	});
});

/** Resolves with the first `count` answers that came back while the others still wait. */
function firstAnswers<T>(answers: Array<Promise<T>>, count: number): Promise<T[]> {
	return new Promise(resolve => {
		const done: T[] = [];
		for (const answer of answers) {
			void answer.then(r => {
				done.push(r);
				if (done.length === count) resolve([...done]);
			});
		}
	});
}
