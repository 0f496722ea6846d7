import { brokerUrlsProblem, connectFirst, splitBrokerUrls } from "../../../../lib/transport/broker-urls";
import { freePort } from "../../../support/services";

describe("Test 'splitBrokerUrls'", () => {
	it("should take one URL, or a comma list with blanks and empty entries dropped", () => {
		expect(splitBrokerUrls("amqp://rabbit")).toEqual(["amqp://rabbit"]);
		expect(splitBrokerUrls(" amqp://a:5672 ,, amqp://b:5673/ ")).toEqual(["amqp://a:5672", "amqp://b:5673/"]);
	});
});

describe("Test 'brokerUrlsProblem'", () => {
	it("should accept the nodes of one cluster: same user, password and vhost, any host and port", () => {
		expect(brokerUrlsProblem(["amqp://u:p@a:5672/shop", "amqps://u:p@b:5671/shop", "amqp://u:p@[::1]/shop"])).toBeUndefined();
		expect(brokerUrlsProblem(["amqp://a", "amqp://b/"])).toBeUndefined();
		expect(brokerUrlsProblem(["amqp://u:p@a/%2F", "amqp://u:p@b/%2f"])).toBeUndefined();
	});

	it("should refuse an empty list, a URL of another scheme, and a list of Moleculer's `;` form", () => {
		expect(brokerUrlsProblem([])).toMatch(/^an amqp:\/\/ or amqps:\/\/ URL/);
		expect(brokerUrlsProblem(["amqp://a", "http://b"])).toMatch(/'http:\/\/b' is not one$/);
		expect(brokerUrlsProblem(["amqp://a;amqp://b"])).toMatch(/is not one$/);
		expect(brokerUrlsProblem(["not a url"])).toMatch(/'not a url' is not a URL$/);
	});

	it("should refuse nodes of other users, passwords or vhosts, naming the odd one without a password", () => {
		expect(brokerUrlsProblem(["amqp://u:secret@a/shop", "amqp://v:secret@b/shop"])).toBe(
			"URLs of one RabbitMQ cluster, with the same user, password and vhost; 'amqp://v:***@b/shop' differs from 'amqp://u:***@a/shop'"
		);
		expect(brokerUrlsProblem(["amqp://u:secret@a/shop", "amqp://u:other@b/shop"])).not.toMatch(/secret|other/);
		expect(brokerUrlsProblem(["amqp://a/shop", "amqp://b/"])).toMatch(/differs/);
	});
});

describe("Test 'connectFirst'", () => {
	it("should fail with the last URL's error when none answers", async () => {
		const [first, second] = [await freePort(), await freePort()];
		await expect(connectFirst([`amqp://127.0.0.1:${first}`, `amqp://127.0.0.1:${second}`])).rejects.toThrow(new RegExp(`ECONNREFUSED.*${second}`));
	});
});
