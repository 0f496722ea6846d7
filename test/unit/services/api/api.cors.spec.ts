import { answerOptions, setCorsHeaders } from "../../../../services/api/api.cors";
import { fakeRequest, fakeResponse } from "./fake-http";

describe("Test 'setCorsHeaders'", () => {
	it("should open CORS to an allowed origin only, and vary on Origin whenever CORS is open", () => {
		const allowed = fakeResponse();
		expect(setCorsHeaders(fakeRequest({ headers: { origin: "https://shop.example" } }), allowed.res, ["https://shop.example"])).toBe("https://shop.example");
		expect(allowed.written.headers).toEqual(expect.objectContaining({ "access-control-allow-origin": "https://shop.example", vary: "Origin" }));

		const other = fakeResponse();
		expect(setCorsHeaders(fakeRequest({ headers: { origin: "https://evil.example" } }), other.res, ["https://shop.example"])).toBeUndefined();
		expect(other.written.headers).toEqual({ vary: "Origin" });

		const closed = fakeResponse();
		setCorsHeaders(fakeRequest({ headers: { origin: "https://shop.example" } }), closed.res, []);
		expect(closed.written.headers).toEqual({});
	});
});

describe("Test 'answerOptions'", () => {
	it("should answer a preflight of an allowed origin with the path's methods, and a plain OPTIONS with Allow only", () => {
		const preflight = fakeResponse();
		answerOptions(fakeRequest({ method: "OPTIONS", headers: { "access-control-request-method": "post" } }), preflight.res, ["GET", "POST"], "https://shop.example");
		expect(preflight.written.status).toBe(204);
		expect(preflight.written.headers).toEqual(expect.objectContaining({ allow: "GET, POST", "access-control-allow-methods": "GET, POST" }));

		const plain = fakeResponse();
		answerOptions(fakeRequest({ method: "OPTIONS" }), plain.res, ["GET"], undefined);
		expect(plain.written.headers).toEqual({ allow: "GET" });
	});
});
