import type { IncomingMessage } from "node:http";
import { callerKey, clientAddress, ipv6Network64, normaliseIp } from "../../../../lib/http/caller-key";

/** A request as the gateway sees it: the socket's peer and the headers (lower-case names, as Node gives them). */
function request(remoteAddress: string | undefined, headers: Record<string, string | string[]> = {}): IncomingMessage {
	return { socket: { remoteAddress }, headers } as unknown as IncomingMessage;
}

const PROXY = "10.0.0.5";
const OTHER_PROXY = "10.0.0.6";

describe("Test 'normaliseIp'", () => {
	it.each([
		["1.2.3.4", "1.2.3.4"],
		["::1", "::1"],
		["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
		["::ffff:1.2.3.4", "1.2.3.4"],
		["::FFFF:1.2.3.4", "1.2.3.4"],
		["::ffff:102:304", "1.2.3.4"],
		["0:0:0:0:0:ffff:0102:0304", "1.2.3.4"],
		["fe80::1%eth0", "fe80::1%eth0"]
	])("should write %s as %s", (raw, expected) => {
		expect(normaliseIp(raw)).toBe(expected);
	});

	it.each(["", "garbage", " 1.2.3.4", "1.2.3.4:8080", "[::1]", "01.2.3.4", "1.2.3.256", "example.com"])(
		"should refuse %j",
		raw => {
			expect(normaliseIp(raw)).toBeUndefined();
		}
	);

	it("should keep an address that only looks mapped (::ffff:0:0:0/96, IPv4-translated) as IPv6", () => {
		expect(normaliseIp("::ffff:0:1.2.3.4")).toBe("::ffff:0:102:304");
	});
});

describe("Test 'callerKey'", () => {
	describe("with a valid token", () => {
		it("should count the token's subject, whatever the address", () => {
			expect(callerKey(request("1.2.3.4"), "customer-42", [])).toBe("sub:customer-42");
			expect(callerKey(request(PROXY, { "x-forwarded-for": "9.9.9.9" }), "customer-42", [PROXY])).toBe("sub:customer-42");
		});

		it("should count by address when the subject is empty", () => {
			expect(callerKey(request("1.2.3.4"), "", [])).toBe("ip:1.2.3.4");
		});
	});

	describe("without a trusted proxy", () => {
		it("should count the socket's peer", () => {
			expect(callerKey(request("1.2.3.4"), undefined, [])).toBe("ip:1.2.3.4");
		});

		it("should ignore X-Forwarded-For: a client cannot pick its own key", () => {
			expect(callerKey(request("1.2.3.4", { "x-forwarded-for": "5.6.7.8" }), undefined, [])).toBe("ip:1.2.3.4");
		});

		it("should write an IPv4-mapped peer (a dual-stack socket) as IPv4", () => {
			expect(callerKey(request("::ffff:1.2.3.4"), undefined, [])).toBe("ip:1.2.3.4");
		});

		it("should say 'unknown' for a socket that has no address any more", () => {
			expect(callerKey(request(undefined), undefined, [])).toBe("ip:unknown");
		});
	});

	describe("behind a trusted proxy", () => {
		it("should count the address the proxy appended", () => {
			expect(callerKey(request(PROXY, { "x-forwarded-for": "5.6.7.8" }), undefined, [PROXY])).toBe("ip:5.6.7.8");
		});

		it("should count the proxy itself when it sends no X-Forwarded-For", () => {
			expect(callerKey(request(PROXY), undefined, [PROXY])).toBe(`ip:${PROXY}`);
		});

		it("should skip every trusted proxy from the right and take the first untrusted address", () => {
			const req = request(PROXY, { "x-forwarded-for": `5.6.7.8, ${OTHER_PROXY}` });
			expect(callerKey(req, undefined, [PROXY, OTHER_PROXY])).toBe("ip:5.6.7.8");
		});

		it("should ignore what the client wrote left of the address its proxy saw (spoofed X-Forwarded-For)", () => {
			const req = request(PROXY, { "x-forwarded-for": "1.1.1.1, 2.2.2.2, 5.6.7.8" });
			expect(callerKey(req, undefined, [PROXY])).toBe("ip:5.6.7.8");
		});

		it("should not let a client pass itself off as a trusted proxy beyond the real one", () => {
			// The client sends "X-Forwarded-For: 1.1.1.1, 10.0.0.6"; its proxy appends the client's real address.
			const req = request(PROXY, { "x-forwarded-for": `1.1.1.1, ${OTHER_PROXY}, 5.6.7.8` });
			expect(callerKey(req, undefined, [PROXY, OTHER_PROXY])).toBe("ip:5.6.7.8");
		});

		it("should read several X-Forwarded-For lines as one list", () => {
			const req = request(PROXY, { "x-forwarded-for": ["1.1.1.1", `5.6.7.8, ${OTHER_PROXY}`] });
			expect(callerKey(req, undefined, [PROXY, OTHER_PROXY])).toBe("ip:5.6.7.8");
		});

		it.each(["garbage", "", "5.6.7.8:4711", "5.6.7.8,", "<script>", "5.6.7.8 9.9.9.9"])(
			"should fall back to the socket's peer for a garbage X-Forwarded-For %j",
			header => {
				expect(callerKey(request(PROXY, { "x-forwarded-for": header }), undefined, [PROXY])).toBe(`ip:${PROXY}`);
			}
		);

		it("should stop at garbage reached while skipping trusted proxies", () => {
			const req = request(PROXY, { "x-forwarded-for": `5.6.7.8, nonsense, ${OTHER_PROXY}` });
			expect(callerKey(req, undefined, [PROXY, OTHER_PROXY])).toBe(`ip:${PROXY}`);
		});

		it("should count the leftmost address when every entry is a trusted proxy", () => {
			const req = request(PROXY, { "x-forwarded-for": OTHER_PROXY });
			expect(callerKey(req, undefined, [PROXY, OTHER_PROXY])).toBe(`ip:${OTHER_PROXY}`);
		});

		it("should recognise a trusted proxy whatever the spelling of its address or the peer's", () => {
			expect(callerKey(request(`::ffff:${PROXY}`, { "x-forwarded-for": "5.6.7.8" }), undefined, [PROXY])).toBe("ip:5.6.7.8");
			expect(callerKey(request("::1", { "x-forwarded-for": "5.6.7.8" }), undefined, ["0:0:0:0:0:0:0:1"])).toBe("ip:5.6.7.8");
		});

		it("should normalise the client's address it takes from the header", () => {
			expect(callerKey(request(PROXY, { "x-forwarded-for": "::ffff:5.6.7.8" }), undefined, [PROXY])).toBe("ip:5.6.7.8");
			expect(clientAddress(request(PROXY, { "x-forwarded-for": "2001:DB8::0:1" }), [PROXY])).toBe("2001:db8::1");
		});

		it("should ignore X-Forwarded-For from a peer that is not the trusted proxy", () => {
			const req = request("7.7.7.7", { "x-forwarded-for": "5.6.7.8" });
			expect(clientAddress(req, [PROXY])).toBe("7.7.7.7");
		});
	});
});

describe("Test 'ipv6Network64'", () => {
	it.each([
		["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
		["2001:db8::1", "2001:db8::/64"],
		["2001:db8:0:1::", "2001:db8:0:1::/64"],
		["::1", "::/64"],
		["fe80::1%eth0", "fe80::/64"],
		["1::2:3:4:5:6.7.8.9%eth0", "1:0:2:3::/64"]
	])("should write the network of %s as %s", (address, expected) => {
		expect(ipv6Network64(address)).toBe(expected);
	});
});

describe("Test 'callerKey' with IPv6 clients", () => {
	it("should give every address of one /64 the same key, so rotating addresses buys no new budget", () => {
		const keys = ["2001:db8:aa:bb::1", "2001:db8:aa:bb:ffff:ffff:ffff:ffff", "2001:DB8:AA:BB:0:0:0:42"].map(a => callerKey(request(a), undefined, []));
		expect(new Set(keys)).toEqual(new Set(["ip:2001:db8:aa:bb::/64"]));
	});

	it("should give another /64 another key", () => {
		expect(callerKey(request("2001:db8:aa:bc::1"), undefined, [])).not.toBe(callerKey(request("2001:db8:aa:bb::1"), undefined, []));
	});

	it("should key an IPv4-mapped peer as its IPv4 address, not as a /64", () => {
		expect(callerKey(request("::ffff:203.0.113.7"), undefined, [])).toBe("ip:203.0.113.7");
		expect(callerKey(request("::ffff:203.0.113.8"), undefined, [])).toBe("ip:203.0.113.8");
	});

	it("should key by the /64 of the client a trusted proxy names", () => {
		expect(callerKey(request(PROXY, { "x-forwarded-for": "2001:db8:5::9" }), undefined, [PROXY])).toBe("ip:2001:db8:5::/64");
	});
});
