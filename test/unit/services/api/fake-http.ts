import type { ServerResponse } from "node:http";
import type { GatewayRequest } from "../../../../services/api/gateway-http";

/** A request as moleculer-web hands it on, with only what the gateway's helpers read. */
export function fakeRequest(init: { method?: string; url?: string; headers?: Record<string, string>; body?: unknown }): GatewayRequest {
	return { method: init.method ?? "GET", url: init.url ?? "/api/orders", headers: init.headers ?? {}, body: init.body } as unknown as GatewayRequest;
}

/** A response that keeps what was written to it. */
export function fakeResponse() {
	const written = { status: 0, headers: {} as Record<string, string>, body: undefined as unknown, ended: false };
	const res = {
		setHeader: (name: string, value: string) => void (written.headers[name.toLowerCase()] = value),
		writeHead: (status: number) => void (written.status = status),
		end: (body?: unknown) => {
			written.body = body;
			written.ended = true;
		}
	} as unknown as ServerResponse;
	return { res, written };
}
