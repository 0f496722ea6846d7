/**
 * Who a request counts against for rate limiting: the token's subject when the bearer token was
 * valid, else the client's IP address. Pure: it reads the socket's address and one header.
 *
 * `X-Forwarded-For` is read only when the socket's peer is one of the trusted proxies, and only as
 * far as the proxies go: walking it from the right, each trusted proxy is skipped and the first
 * address that is not one is the client. What a client writes in the header itself lies left of
 * that address and is never read, so a client cannot choose its own key.
 */
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/** An IPv4-mapped IPv6 address (::ffff:0:0/96) as the URL parser writes it: two hex groups. */
const MAPPED_IPV4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * One spelling per address: IPv4 as it is, IPv6 lower-case and compressed (RFC 5952, as the URL
 * parser writes it), an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, `::ffff:102:304`) as its IPv4
 * address. `undefined` for anything that is not an IP address per `net.isIP` (a port, brackets,
 * spaces, a host name).
 */
export function normaliseIp(raw: string | undefined): string | undefined {
	if (raw === undefined) return undefined;
	const family = isIP(raw);
	if (family === 4) return raw;
	if (family !== 6) return undefined;
	const zoneAt = raw.indexOf("%");
	const zone = zoneAt < 0 ? "" : raw.slice(zoneAt);
	const address = zoneAt < 0 ? raw : raw.slice(0, zoneAt);
	let canonical: string;
	try {
		canonical = new URL(`http://[${address}]`).hostname.slice(1, -1);
	} catch {
		return raw.toLowerCase();
	}
	const mapped = zone ? null : MAPPED_IPV4.exec(canonical);
	if (mapped) {
		const high = parseInt(mapped[1], 16);
		const low = parseInt(mapped[2], 16);
		return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
	}
	return canonical + zone;
}

/** The `X-Forwarded-For` entries, leftmost first; several header lines read as one list. */
function forwardedFor(req: IncomingMessage): string[] {
	const header = req.headers["x-forwarded-for"];
	if (header === undefined) return [];
	const text = Array.isArray(header) ? header.join(",") : header;
	return text.split(",").map(entry => entry.trim());
}

/**
 * The client's IP address, normalised: the socket's peer, or — when that peer is a trusted proxy —
 * the rightmost `X-Forwarded-For` entry that is not a trusted proxy. An entry that is no IP address
 * (garbage, a port, an empty item) ends the walk and the socket's peer is the answer: the header
 * cannot be trusted past it. When every entry is a trusted proxy, the leftmost one is the client
 * (a proxy's own request). `undefined` only when the socket has no address any more (closed).
 */
export function clientAddress(req: IncomingMessage, trustedProxies: readonly string[]): string | undefined {
	const peer = normaliseIp(req.socket?.remoteAddress);
	if (peer === undefined || trustedProxies.length === 0) return peer;
	const trusted = new Set(trustedProxies.map(normaliseIp).filter((a): a is string => a !== undefined));
	if (!trusted.has(peer)) return peer;
	const hops = forwardedFor(req);
	let client = peer;
	for (let i = hops.length - 1; i >= 0; i--) {
		const hop = normaliseIp(hops[i]);
		if (hop === undefined) return peer;
		client = hop;
		if (!trusted.has(hop)) return hop;
	}
	return client;
}

/**
 * The /64 network of a normalised IPv6 address, as `2001:db8:0:1::/64`. One subscriber usually gets
 * a whole /64 and may pick any address in it, so counting per address would let it rotate through
 * 2^64 fresh budgets. A zone (`%eth0`) is dropped: link-local neighbours share their link's /64.
 */
export function ipv6Network64(address: string): string {
	let bare = address.split("%")[0];
	// An address with a zone skipped the URL parser's normalisation and may end in dotted IPv4.
	const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(bare);
	if (dotted) {
		const [a, b, c, d] = dotted.slice(1).map(Number);
		bare = bare.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
	}
	const [head, tail] = bare.includes("::") ? bare.split("::") : [bare, undefined];
	const headGroups = head ? head.split(":") : [];
	const tailGroups = tail ? tail.split(":") : [];
	const missing = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
	const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill("0"), ...tailGroups];
	const network = groups.slice(0, 4).map(g => parseInt(g, 16).toString(16));
	// RFC 5952: the longest run of zero groups at the end is compressed.
	while (network.length > 0 && network[network.length - 1] === "0") network.pop();
	return `${network.join(":")}::/64`;
}

/**
 * The rate-limit key of a request: `sub:<subject>` when the bearer token was valid (pass its `sub`),
 * else `ip:<client address>` (see {@link clientAddress}) for IPv4 and `ip:<network>::/64` for IPv6
 * (see {@link ipv6Network64}); `ip:unknown` for a socket already closed.
 */
export function callerKey(req: IncomingMessage, subject: string | undefined, trustedProxies: readonly string[]): string {
	if (typeof subject === "string" && subject !== "") return `sub:${subject}`;
	const address = clientAddress(req, trustedProxies);
	if (address === undefined) return "ip:unknown";
	// normaliseIp already wrote an IPv4-mapped address as IPv4: only a real IPv6 client has a colon.
	return `ip:${address.includes(":") ? ipv6Network64(address) : address}`;
}
