/**
 * The broker URLs of TRANSPORTER: one RabbitMQ URL, or a comma list of the nodes of one RabbitMQ
 * cluster. Moleculer's AMQP transporter takes the list as an array and connects to its URLs in
 * turn, one a connection attempt: the first at start, the next whenever the connection is lost or
 * an attempt fails (every 5 s). The dead-letter store connects to the first that answers.
 */
import amqp, { type ChannelModel } from "amqplib";
import { redactUrl } from "../database/database-target";

/** The URLs of a comma list, trimmed, empty entries dropped (a comma in a password is `%2C`). */
export function splitBrokerUrls(raw: string): string[] {
	return raw.split(",").map(s => s.trim()).filter(Boolean);
}

/**
 * Why `urls` cannot be the broker URLs of one cluster, or `undefined` when they can: each must be an
 * amqp:// or amqps:// URL, and all must name the same user, password and vhost (the nodes of one
 * cluster share them; only host and port may differ). The reason quotes no password.
 */
export function brokerUrlsProblem(urls: readonly string[]): string | undefined {
	if (urls.length === 0) return "an amqp:// or amqps:// URL (RabbitMQ), or a comma list of them";
	let first: URL | undefined;
	for (const url of urls) {
		let parsed: URL;
		try {
			parsed = new URL(url);
		} catch {
			return `an amqp:// or amqps:// URL (RabbitMQ), or a comma list of them; '${redactUrl(url)}' is not a URL`;
		}
		// Moleculer separates URLs with `;`: WHATWG parsing would take `a;amqp://b` for one odd host.
		if ((parsed.protocol !== "amqp:" && parsed.protocol !== "amqps:") || !/^([\w.-]+|\[[\da-f:.]+\])$/i.test(parsed.hostname)) {
			return `an amqp:// or amqps:// URL (RabbitMQ), or a comma list of them; '${redactUrl(url)}' is not one`;
		}
		first ??= parsed;
		if (parsed.username !== first.username || parsed.password !== first.password || vhostOf(parsed) !== vhostOf(first)) {
			return `URLs of one RabbitMQ cluster, with the same user, password and vhost; '${redactUrl(url)}' differs from '${redactUrl(urls[0])}'`;
		}
	}
	return undefined;
}

/** The vhost a URL names: its path, `/` when it has none. */
function vhostOf(url: URL): string {
	return url.pathname === "" || url.pathname === "/" ? "/" : decodeURIComponent(url.pathname.slice(1));
}

/** A connection to the first of `urls` that answers, in order; fails with the last error when none does. */
export async function connectFirst(urls: string | readonly string[], socketOptions?: Record<string, unknown>): Promise<ChannelModel> {
	const list = typeof urls === "string" ? [urls] : urls;
	let last: unknown = new Error("No broker URL given.");
	for (const url of list) {
		try {
			return await amqp.connect(url, socketOptions);
		} catch (err) {
			last = err;
		}
	}
	throw last;
}
