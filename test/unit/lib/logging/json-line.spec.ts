import { formatJsonLine } from "../../../../lib/logging/json-line";

const parse = (line: string) => JSON.parse(line) as Record<string, unknown>;

describe("Test 'formatJsonLine'", () => {
	it("should print one JSON object on a single line", () => {
		const line = formatJsonLine("info", ["Order created."], { svc: "orders" });
		expect(line).not.toContain("\n");
		expect(typeof parse(line)).toBe("object");
	});

	it("should stamp the record with the current time in ISO format", () => {
		const before = Date.now();
		const record = parse(formatJsonLine("info", ["hello"]));
		const after = Date.now();
		expect(record.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
		const at = Date.parse(record.timestamp as string);
		expect(at).toBeGreaterThanOrEqual(before);
		expect(at).toBeLessThanOrEqual(after);
	});

	it("should carry the level", () => {
		expect(parse(formatJsonLine("warn", ["careful"])).level).toBe("warn");
	});

	it("should name the logger after the service rather than the module", () => {
		expect(parse(formatJsonLine("info", ["x"], { svc: "orders", mod: "broker" })).logger).toBe("orders");
	});

	it("should name the logger after the module when there is no service", () => {
		expect(parse(formatJsonLine("info", ["x"], { mod: "transit" })).logger).toBe("transit");
	});

	it("should name the logger 'app' without bindings", () => {
		expect(parse(formatJsonLine("info", ["x"])).logger).toBe("app");
	});

	it("should join the text arguments into the message", () => {
		const record = parse(formatJsonLine("info", ["Order", "created", 42, true]));
		expect(record.message).toBe("Order created 42 true");
	});

	it("should merge the fields of context objects into the record", () => {
		const record = parse(formatJsonLine("info", ["Order created.", { orderId: "o-1" }, { correlationId: "c-1" }], { svc: "orders" }));
		expect(record).toMatchObject({ message: "Order created.", orderId: "o-1", correlationId: "c-1", logger: "orders" });
	});

	it("should add the node id and namespace from the bindings", () => {
		const record = parse(formatJsonLine("info", ["x"], { nodeID: "node-7", ns: "staging" }));
		expect(record.nodeID).toBe("node-7");
		expect(record.namespace).toBe("staging");
	});

	it("should leave out the node id when the bindings have none", () => {
		expect(parse(formatJsonLine("info", ["x"]))).not.toHaveProperty("nodeID");
	});

	it("should describe an error argument by name and message", () => {
		const error = new TypeError("bad input");
		const record = parse(formatJsonLine("error", ["Create failed.", error]));
		expect(record.message).toBe("Create failed.");
		expect(record.error).toEqual({ name: "TypeError", message: "bad input" });
	});

	it("should use the error's message when nothing else is said", () => {
		expect(parse(formatJsonLine("error", [new Error("boom")])).message).toBe("boom");
	});

	it("should keep the code and type of a Moleculer-style error", () => {
		const error = Object.assign(new Error("not found"), { name: "OrderNotFoundError", code: 404, type: "ORDER_NOT_FOUND" });
		expect(parse(formatJsonLine("warn", [error])).error).toEqual({
			name: "OrderNotFoundError",
			message: "not found",
			code: 404,
			type: "ORDER_NOT_FOUND"
		});
	});

	it("should leave the stack out at info level", () => {
		const record = parse(formatJsonLine("info", [new Error("boom")]));
		expect(record.error).not.toHaveProperty("stack");
	});

	it("should leave the stack out at error level", () => {
		const record = parse(formatJsonLine("error", [new Error("boom")]));
		expect(record.error).not.toHaveProperty("stack");
	});

	it("should include the stack at debug level", () => {
		const error = new Error("boom");
		const record = parse(formatJsonLine("debug", [error]));
		expect((record.error as { stack: string }).stack).toBe(error.stack);
		expect((record.error as { stack: string }).stack).toContain("Error: boom");
	});

	it("should include the stack at trace level", () => {
		const record = parse(formatJsonLine("trace", [new Error("boom")]));
		expect(record.error).toHaveProperty("stack");
	});

	it("should describe an error given inside a context object", () => {
		const record = parse(formatJsonLine("warn", ["Retry.", { cause: new RangeError("too far") }]));
		expect(record.cause).toEqual({ name: "RangeError", message: "too far" });
	});

	it("should survive a circular context object", () => {
		const context: Record<string, unknown> = { orderId: "o-1" };
		context.self = context;
		const record = parse(formatJsonLine("info", ["x", { context }]));
		expect(record.context).toEqual({ orderId: "o-1", self: "[circular]" });
	});

	it("should print a bigint as its digits", () => {
		const record = parse(formatJsonLine("info", ["count", { total: 12345678901234567890n }]));
		expect(record.total).toBe("12345678901234567890");
	});

	it("should print an array argument as JSON text in the message", () => {
		expect(parse(formatJsonLine("info", ["ids", ["a", "b"]])).message).toBe('ids ["a","b"]');
	});

	it("should skip undefined arguments", () => {
		expect(parse(formatJsonLine("info", ["a", undefined, "b"])).message).toBe("a b");
	});
});
