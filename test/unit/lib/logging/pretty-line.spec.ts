import { logRecord } from "../../../../lib/logging/json-line";
import { formatPrettyLine } from "../../../../lib/logging/pretty-line";

const pretty = (level: string, args: unknown[], colors = false) => formatPrettyLine(logRecord(level, args, { svc: "orders", nodeID: "node-1" }), colors);

describe("Test 'formatPrettyLine'", () => {
	it("should print time, level, logger and message, then the context as key=value", () => {
		const line = pretty("info", ["Order created.", { orderId: "o-1", correlationId: "c 1", total: 19.98 }]);
		expect(line).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} INFO  orders     Order created\. orderId=o-1 correlationId="c 1" total=19\.98$/);
	});

	it("should leave out the node id, and context values that are undefined", () => {
		const line = pretty("info", ["Node started.", { port: undefined, transporter: "amqp" }]);
		expect(line).not.toContain("node-1");
		expect(line).not.toContain("port=");
		expect(line).toMatch(/Node started\. transporter=amqp$/);
	});

	it("should end with the error's message, and not repeat a message that is the error's own", () => {
		expect(pretty("error", ["Create failed.", new Error("connection reset")])).toMatch(/ERROR orders     Create failed\. error="connection reset"$/);
		expect(pretty("error", [new Error("boom")])).toMatch(/ERROR orders     boom$/);
	});

	it("should write objects as JSON and be one line without colours", () => {
		const line = pretty("warn", ["Retry.", { filter: { event: "order.created" } }]);
		expect(line).toMatch(/WARN  orders     Retry\. filter=\{"event":"order\.created"\}$/);
		expect(line).not.toContain("\n");
		expect(line).not.toContain("\u001b[");
	});

	it("should colour the level only when asked", () => {
		expect(pretty("warn", ["careful"], true)).toContain("\u001b[33mWARN \u001b[0m");
	});

	it("should print an error's stack below the line at debug level", () => {
		const [line, ...stack] = pretty("debug", ["Failed.", new Error("boom")]).split("\n");
		expect(line).toMatch(/DEBUG orders     Failed\. error=boom$/);
		expect(stack[0]).toBe("    Error: boom");
		expect(stack[1]).toMatch(/^ {4}at /);
	});
});
