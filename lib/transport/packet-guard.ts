/**
 * What a node does with the signed packets of the bus (packet-signing.ts): signs what it sends, and
 * decides for each packet it receives whether it may be handled.
 *
 * - An event is accepted whenever its MAC verifies: it may have waited in a durable queue for
 *   hours, and the inbox makes a replayed event change nothing twice.
 * - Every other packet (requests, responses, discovery, heartbeats, disconnects, pings) must also
 *   have been sent within `maxAgeMs` of now, either way (clocks of two nodes differ a little).
 * - A request is accepted once: the MAC of each one accepted is remembered for the window, so a
 *   recorded request replayed within it runs nothing either.
 */
import { Errors } from "moleculer";
import { signPacket, verifyPacket, type ClusterKeys, type RejectionReason } from "./packet-signing";

/** Packets of these types are not time-limited. */
const UNDATED_TYPES = new Set(["EVENT"]);
/** Packets of these types are accepted once. */
const ONCE_TYPES = new Set(["REQ"]);
/** Requests remembered at most: a flood of valid requests cannot grow the memory without bound. */
const MAX_REMEMBERED = 200_000;

/** The window a dated packet must have been sent in, by default: ±60 s around the receiver's clock. */
export const DEFAULT_MAX_PACKET_AGE_MS = 60_000;

export interface PacketGuardOptions {
	keys: ClusterKeys;
	/** How far from now (either way) a request or discovery packet may have been sent. */
	maxAgeMs?: number;
	/** The clock, in ms since the epoch; the tests set it. */
	now?: () => number;
}

/** A packet that may be handled: its bytes as serialized, and when it was sent. */
export interface AcceptedPacket {
	accepted: true;
	packet: Buffer;
	sentAt: number;
}

/** A packet that must not be handled, why, and what it claimed to carry. */
export interface RejectedPacket {
	accepted: false;
	reason: RejectionReason;
	claimed: Buffer;
}

export class PacketGuard {
	readonly maxAgeMs: number;
	private readonly keys: ClusterKeys;
	/** The clock the windows are measured on. */
	readonly now: () => number;
	/** MAC (hex) of each request accepted, with when it may be forgotten; in insertion order. */
	private readonly seen = new Map<string, number>();

	constructor(options: PacketGuardOptions) {
		this.keys = options.keys;
		this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_PACKET_AGE_MS;
		this.now = options.now ?? Date.now;
	}

	/** The signed form of a serialized packet, dated now. */
	sign(type: string, packet: Buffer): Buffer {
		return signPacket(this.keys, type, packet, this.now());
	}

	/** Decides whether a received message of `type` may be handled. */
	check(type: string, data: Buffer): AcceptedPacket | RejectedPacket {
		const opened = verifyPacket(this.keys, type, data);
		if (!opened.ok) return { accepted: false, reason: opened.reason, claimed: opened.claimed };
		if (UNDATED_TYPES.has(type)) return { accepted: true, packet: opened.packet, sentAt: opened.sentAt };

		const now = this.now();
		if (Math.abs(now - opened.sentAt) > this.maxAgeMs) return { accepted: false, reason: "stale", claimed: opened.packet };
		if (ONCE_TYPES.has(type)) {
			this.forgetExpired(now);
			const key = opened.mac.toString("hex");
			if (this.seen.has(key)) return { accepted: false, reason: "replay", claimed: opened.packet };
			if (this.seen.size >= MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value as string);
			this.seen.set(key, opened.sentAt + this.maxAgeMs);
		}
		return { accepted: true, packet: opened.packet, sentAt: opened.sentAt };
	}

	/**
	 * A stored event message made ready to be sent again (a dead letter's replay): as it is when it
	 * verifies under the signing key, signed anew (same time) when under another accepted key, and
	 * `null` when under none — it did not come from a node of this cluster.
	 */
	reseal(type: string, data: Buffer): Buffer | null {
		const opened = verifyPacket(this.keys, type, data);
		if (!opened.ok) return null;
		return opened.previousKey ? signPacket(this.keys, type, opened.packet, opened.sentAt) : data;
	}

	/** Drops the remembered requests whose window has passed (they would be refused as stale anyway). */
	private forgetExpired(now: number): void {
		for (const [key, until] of this.seen) {
			// Roughly in expiry order (insertion order): the first one still valid ends the sweep.
			if (until >= now) break;
			this.seen.delete(key);
		}
	}
}

/** A refused packet, as the log tells it. */
export interface Refusal {
	reason: RejectionReason;
	type: string;
	sender: string;
}

/**
 * Logs refused packets at `warn`, at most once per reason every `intervalMs`: a flood of forged
 * packets cannot fill the disk. The line after a quiet spell says how many went unlogged.
 */
export class RefusalLog {
	private readonly last = new Map<RejectionReason, { at: number; unlogged: number }>();

	constructor(
		private readonly warn: (message: string, context: Record<string, unknown>) => void,
		private readonly intervalMs = 10_000,
		private readonly now: () => number = Date.now
	) {}

	/** Logs the refusal, or counts it for the next line when one of its reason was logged lately. */
	note({ reason, type, sender }: Refusal): void {
		const now = this.now();
		const last = this.last.get(reason);
		if (last && now - last.at < this.intervalMs) {
			last.unlogged++;
			return;
		}
		const unlogged = last?.unlogged ?? 0;
		this.last.set(reason, { at: now, unlogged: 0 });
		const more = unlogged > 0 ? ` (${unlogged} more refused for this reason since the last such line)` : "";
		this.warn(`Refused a bus packet: ${REASON_TEXT[reason]}; it was not handled${more}.`, { reason, packetType: type, claimedSender: sender });
	}
}

const REASON_TEXT: Record<RejectionReason, string> = {
	signature: "its signature does not verify under the cluster key (CLUSTER_SECRET)",
	stale: "it was sent outside the accepted window of time",
	replay: "it was received before (a replayed packet)"
};

/** The error a refused event message is dead-lettered with: never retried, never replayed. */
export class BusPacketRejectedError extends Errors.MoleculerClientError {
	constructor(reason: RejectionReason) {
		super(
			`Bus packet rejected (${reason}): it is not signed with the cluster key this node accepts (CLUSTER_SECRET, CLUSTER_SECRET_PREVIOUS): a process without the key sent it, or a node with another key.`,
			403,
			"BUS_PACKET_REJECTED",
			{ reason }
		);
		this.name = "BusPacketRejectedError";
	}
}

/** What `receive` gives back for an event message that must not be handled; its consumer dead-letters it. */
export class RefusedMessage {
	constructor(readonly error: Errors.MoleculerClientError) {}
}
