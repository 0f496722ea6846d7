import { PacketGuard, RefusalLog } from "../../../../lib/transport/packet-guard";
import { clusterKeys, signPacket } from "../../../../lib/transport/packet-signing";

const KEY = "0f4e8a2c6b1d9e3f7a5c0b8d2e6f4a1c";
const OLD_KEY = "7c3a9e1f5b2d8c4a6e0f2b9d1c7a3e5f";
const body = (id: string) => Buffer.from(JSON.stringify({ ver: "5", sender: "node-1", id }));

describe("Test 'PacketGuard'", () => {
	let now = 1_800_000_000_000;
	const guard = new PacketGuard({ keys: clusterKeys(KEY), maxAgeMs: 60_000, now: () => now });

	it("should accept what it signed, and refuse what no key signed", () => {
		expect(guard.check("HEARTBEAT", guard.sign("HEARTBEAT", body("h")))).toMatchObject({ accepted: true, sentAt: now });
		expect(guard.check("HEARTBEAT", body("h"))).toMatchObject({ accepted: false, reason: "signature" });
	});

	it("should refuse a request or discovery packet sent outside the window, either way, but never an event", () => {
		const sentAt = now;
		const info = guard.sign("INFO", body("i"));
		const event = guard.sign("EVENT", body("e"));
		now = sentAt + 60_000;
		expect(guard.check("INFO", info)).toMatchObject({ accepted: true });
		now = sentAt + 60_001;
		expect(guard.check("INFO", info)).toMatchObject({ accepted: false, reason: "stale" });
		now = sentAt - 60_001;
		expect(guard.check("INFO", info)).toMatchObject({ accepted: false, reason: "stale" });
		// An event may wait in its durable queue for hours.
		now = sentAt + 6 * 3_600_000;
		expect(guard.check("EVENT", event)).toMatchObject({ accepted: true });
		now = sentAt;
	});

	it("should run a request once: the same signed bytes again are a replay, a new request is not", () => {
		const first = guard.sign("REQ", body("r-1"));
		expect(guard.check("REQ", first)).toMatchObject({ accepted: true });
		expect(guard.check("REQ", first)).toMatchObject({ accepted: false, reason: "replay" });
		expect(guard.check("REQ", guard.sign("REQ", body("r-2")))).toMatchObject({ accepted: true });
		// Heartbeats repeat on purpose; only requests are remembered.
		const heartbeat = guard.sign("HEARTBEAT", body("h"));
		expect(guard.check("HEARTBEAT", heartbeat)).toMatchObject({ accepted: true });
		expect(guard.check("HEARTBEAT", heartbeat)).toMatchObject({ accepted: true });
	});

	it("should forget a request once its window passed: the copy is then refused as stale", () => {
		const request = guard.sign("REQ", body("r-3"));
		expect(guard.check("REQ", request)).toMatchObject({ accepted: true });
		now += 60_001;
		expect(guard.check("REQ", guard.sign("REQ", body("r-4")))).toMatchObject({ accepted: true });
		expect(guard.check("REQ", request)).toMatchObject({ accepted: false, reason: "stale" });
	});

	it("should make a dead letter signed with the previous key ready to replay under the current one, and refuse an unsigned one", () => {
		const rotated = new PacketGuard({ keys: clusterKeys(KEY, OLD_KEY), now: () => now });
		const old = signPacket(clusterKeys(OLD_KEY), "EVENT", body("e"), now - 3_600_000);
		const resealed = rotated.reseal("EVENT", old)!;
		expect(resealed).not.toBeNull();
		expect(guard.check("EVENT", resealed)).toMatchObject({ accepted: true, sentAt: now - 3_600_000 });
		const current = guard.sign("EVENT", body("e"));
		expect(rotated.reseal("EVENT", current)).toBe(current);
		expect(rotated.reseal("EVENT", body("e"))).toBeNull();
	});
});

describe("Test 'RefusalLog'", () => {
	it("should log a refusal at once, then at most one line per reason every interval, counting the ones it left out", () => {
		let now = 0;
		const lines: Array<{ message: string; context: Record<string, unknown> }> = [];
		const log = new RefusalLog((message, context) => lines.push({ message, context }), 10_000, () => now);
		for (let i = 0; i < 1000; i++) log.note({ reason: "signature", type: "REQ", sender: `forger-${i}` });
		log.note({ reason: "stale", type: "INFO", sender: "node-2" });
		expect(lines).toHaveLength(2);
		expect(lines[0].context).toEqual({ reason: "signature", packetType: "REQ", claimedSender: "forger-0" });
		now = 10_000;
		log.note({ reason: "signature", type: "EVENT", sender: "forger-x" });
		expect(lines).toHaveLength(3);
		expect(lines[2].message).toMatch(/999 more refused for this reason/);
		expect(lines[2].context.claimedSender).toBe("forger-x");
	});
});
