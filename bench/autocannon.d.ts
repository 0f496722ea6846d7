/** The part of autocannon 8 (which ships no types) that bench/load-client.ts uses. */
declare module "autocannon" {
	import type { EventEmitter } from "node:events";

	namespace autocannon {
		interface Request {
			method?: string;
			path?: string;
			headers?: Record<string, string>;
			body?: string | Buffer;
			/** Called before each send when present: returns the request to send (a copy it may change). */
			setupRequest?(request: Request, context: Record<string, unknown>): Request;
			onResponse?(status: number, body: string, context: Record<string, unknown>): void;
		}

		interface Options {
			url: string;
			connections?: number;
			duration?: number;
			amount?: number;
			/** Seconds. */
			timeout?: number;
			headers?: Record<string, string>;
			requests?: Request[];
		}

		type Instance = EventEmitter;
	}

	function autocannon(options: autocannon.Options, done: (err: Error | null, result: unknown) => void): autocannon.Instance;
	export = autocannon;
}
