/**
 * Signed bus packets: every packet a node sends carries an HMAC-SHA256 of its bytes under the
 * cluster key (`CLUSTER_SECRET`), and a packet whose MAC does not verify is never handled.
 *
 * The signed form is a 43-byte header before the serialized packet:
 *
 *     "MS" 0x01 | sent at (ms since the epoch, uint64 big-endian) | HMAC-SHA256 (32 bytes) | packet
 *
 * The MAC covers the header's first 11 bytes (magic, version, time), the packet type and the
 * packet, so a packet cannot be re-dated or replayed as another type. The time lets the receiver
 * refuse a recorded request or discovery packet replayed later (`maxAgeMs`); events are not
 * time-limited, since they may wait in a durable queue for hours (the inbox deduplicates them).
 *
 * Pure functions: no broker, no clock of their own.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const MAGIC_0 = 0x4d; // "M"
const MAGIC_1 = 0x53; // "S"
const VERSION = 0x01;
const TIME_OFFSET = 3;
const MAC_OFFSET = 11;
const MAC_LENGTH = 32;
/** Bytes a signed packet has before the packet itself. */
export const SIGNED_HEADER_LENGTH = MAC_OFFSET + MAC_LENGTH;

/** Why a packet was refused; the label of `bus_packets_rejected_total`. */
export type RejectionReason = "signature" | "stale" | "replay";

/** The keys of a node: the one it signs with, and every one it accepts (the signing key first). */
export interface ClusterKeys {
	readonly signing: Buffer;
	readonly accepted: readonly Buffer[];
}

/** The keys for `CLUSTER_SECRET` (and `CLUSTER_SECRET_PREVIOUS`, accepted but never signed with). */
export function clusterKeys(secret: string, previous?: string): ClusterKeys {
	const signing = Buffer.from(secret, "utf8");
	const accepted = previous ? [signing, Buffer.from(previous, "utf8")] : [signing];
	return { signing, accepted };
}

function mac(key: Buffer, header: Buffer, type: string, packet: Buffer): Buffer {
	return createHmac("sha256", key).update(header.subarray(0, MAC_OFFSET)).update(type).update("\0").update(packet).digest();
}

/** The signed form of a serialized packet of `type` (`REQ`, `EVENT`, `INFO`, …), sent at `sentAt` ms. */
export function signPacket(keys: ClusterKeys, type: string, packet: Buffer, sentAt: number): Buffer {
	const header = Buffer.allocUnsafe(SIGNED_HEADER_LENGTH);
	header[0] = MAGIC_0;
	header[1] = MAGIC_1;
	header[2] = VERSION;
	header.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(sentAt))), TIME_OFFSET);
	mac(keys.signing, header, type, packet).copy(header, MAC_OFFSET);
	return Buffer.concat([header, packet]);
}

/** A verified packet: its bytes as serialized, when it was sent, and the MAC (unique per packet). */
export interface OpenedPacket {
	ok: true;
	packet: Buffer;
	sentAt: number;
	mac: Buffer;
	/** True when it verified under an accepted key other than the signing key (a rotation is under way). */
	previousKey: boolean;
}

/** A refused packet, with what it claims to carry (for the log, never to be trusted). */
export interface RefusedPacket {
	ok: false;
	reason: RejectionReason;
	/** The bytes after the header, or all of them when there is no header. */
	claimed: Buffer;
}

/** Checks a signed packet's MAC under each accepted key; a packet with no header is refused too. */
export function verifyPacket(keys: ClusterKeys, type: string, data: Buffer): OpenedPacket | RefusedPacket {
	if (data.length < SIGNED_HEADER_LENGTH || data[0] !== MAGIC_0 || data[1] !== MAGIC_1 || data[2] !== VERSION) {
		return { ok: false, reason: "signature", claimed: data };
	}
	const packet = data.subarray(SIGNED_HEADER_LENGTH);
	const given = data.subarray(MAC_OFFSET, SIGNED_HEADER_LENGTH);
	for (let i = 0; i < keys.accepted.length; i++) {
		if (timingSafeEqual(mac(keys.accepted[i], data, type, packet), given)) {
			return { ok: true, packet, sentAt: Number(data.readBigUInt64BE(TIME_OFFSET)), mac: Buffer.from(given), previousKey: i > 0 };
		}
	}
	return { ok: false, reason: "signature", claimed: packet };
}

/** The packet inside a signed message without checking it (what an operator's view shows); the whole message when unsigned. */
export function packetBytes(data: Buffer): Buffer {
	const signed = data.length >= SIGNED_HEADER_LENGTH && data[0] === MAGIC_0 && data[1] === MAGIC_1 && data[2] === VERSION;
	return signed ? data.subarray(SIGNED_HEADER_LENGTH) : data;
}

/** The `sender` a packet claims (JSON serializer), for the log of a refusal; `unknown` when it names none. */
export function claimedSender(packet: Buffer): string {
	try {
		const sender = (JSON.parse(packet.subarray(0, 65_536).toString("utf8")) as { sender?: unknown })?.sender;
		return typeof sender === "string" ? sender.slice(0, 128) : "unknown";
	} catch {
		return "unknown";
	}
}
