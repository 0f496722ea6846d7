import { SIGNED_HEADER_LENGTH, claimedSender, clusterKeys, packetBytes, signPacket, verifyPacket } from "../../../../lib/transport/packet-signing";

const KEY = "0f4e8a2c6b1d9e3f7a5c0b8d2e6f4a1c";
const NEXT_KEY = "7c3a9e1f5b2d8c4a6e0f2b9d1c7a3e5f";
const packet = Buffer.from(JSON.stringify({ ver: "5", sender: "node-1", id: "r-1", action: "orders.list", params: {} }));

describe("Test 'signPacket' and 'verifyPacket'", () => {
	const keys = clusterKeys(KEY);

	it("should give back the packet and when it was sent for a packet signed with the key", () => {
		const signed = signPacket(keys, "REQ", packet, 1_700_000_000_123);
		expect(signed.length).toBe(packet.length + SIGNED_HEADER_LENGTH);
		const opened = verifyPacket(keys, "REQ", signed);
		expect(opened).toMatchObject({ ok: true, sentAt: 1_700_000_000_123, previousKey: false });
		expect(opened.ok && opened.packet.equals(packet)).toBe(true);
	});

	it("should refuse an unsigned packet, one signed with another key, and one changed in any byte", () => {
		expect(verifyPacket(keys, "REQ", packet)).toMatchObject({ ok: false, reason: "signature" });
		expect(verifyPacket(keys, "REQ", signPacket(clusterKeys(NEXT_KEY), "REQ", packet, Date.now()))).toMatchObject({ ok: false, reason: "signature" });
		const signed = signPacket(keys, "REQ", packet, Date.now());
		for (const at of [3, 10, 20, signed.length - 2]) {
			const changed = Buffer.from(signed);
			changed[at] ^= 0x01;
			expect(verifyPacket(keys, "REQ", changed)).toMatchObject({ ok: false, reason: "signature" });
		}
		expect(verifyPacket(keys, "REQ", signed.subarray(0, SIGNED_HEADER_LENGTH - 1))).toMatchObject({ ok: false });
	});

	it("should refuse a signed packet presented as another type: a signed event is no request", () => {
		const event = signPacket(keys, "EVENT", packet, Date.now());
		expect(verifyPacket(keys, "REQ", event)).toMatchObject({ ok: false, reason: "signature" });
	});

	it("should accept a packet signed with the previous key during a rotation, and say so", () => {
		const rotating = clusterKeys(NEXT_KEY, KEY);
		expect(verifyPacket(rotating, "INFO", signPacket(keys, "INFO", packet, Date.now()))).toMatchObject({ ok: true, previousKey: true });
		expect(verifyPacket(rotating, "INFO", signPacket(rotating, "INFO", packet, Date.now()))).toMatchObject({ ok: true, previousKey: false });
		// A node that has not got the new key yet refuses what the new key signed.
		expect(verifyPacket(keys, "INFO", signPacket(rotating, "INFO", packet, Date.now()))).toMatchObject({ ok: false });
	});

	it("should show an operator the packet inside a message, signed or not, and the sender it claims", () => {
		expect(packetBytes(signPacket(keys, "EVENT", packet, Date.now())).equals(packet)).toBe(true);
		expect(packetBytes(Buffer.from("plain text"))).toEqual(Buffer.from("plain text"));
		expect(claimedSender(packet)).toBe("node-1");
		expect(claimedSender(Buffer.from("not json"))).toBe("unknown");
	});
});
