import { writeFixedAnswer } from "../../../../services/api/front-door";
import { fakeRequest, fakeResponse } from "./fake-http";

describe("Test 'writeFixedAnswer'", () => {
	const answer = { status: 200, contentType: "text/plain", body: "hello", headers: { "Cache-Control": "no-cache" } };

	it("should write the answer to a GET, without its body to a HEAD, and refuse a POST with 405", () => {
		const get = fakeResponse();
		expect(writeFixedAnswer(fakeRequest({ method: "GET", url: "/" }), get.res, answer)).toBeNull();
		expect(get.written).toEqual(expect.objectContaining({ status: 200, body: "hello" }));
		const head = fakeResponse();
		writeFixedAnswer(fakeRequest({ method: "HEAD", url: "/" }), head.res, answer);
		expect(head.written).toEqual(expect.objectContaining({ status: 200, body: undefined, ended: true }));
		const post = fakeResponse();
		expect(writeFixedAnswer(fakeRequest({ method: "POST", url: "/" }), post.res, answer)).toEqual(expect.objectContaining({ code: 405 }));
		expect(post.written.ended).toBe(false);
	});
});
