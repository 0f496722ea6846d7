/**
 * The node's logger writes one line per entry in the format configured: JSON lines for machines,
 * readable lines for a person; warnings and worse on stderr.
 */
import { ServiceBroker } from "moleculer";
import { LineLogger } from "../../../../lib/logging/line-logger";

function brokerWritingTo(lines: Array<{ level: string; line: string }>, format: "json" | "pretty") {
	const logger = new LineLogger({ level: "info", format, colors: false });
	logger.output = { write: (level, line) => lines.push({ level, line }) };
	return new ServiceBroker({ nodeID: "node-1", logger });
}

describe("Test 'LineLogger'", () => {
	it("should write JSON lines with timestamp, level, logger, message and the context", () => {
		const lines: Array<{ level: string; line: string }> = [];
		const broker = brokerWritingTo(lines, "json");
		lines.length = 0;
		broker.getLogger("orders").info("Order created.", { orderId: "o-1" });

		expect(lines).toHaveLength(1);
		expect(JSON.parse(lines[0].line)).toEqual({
			timestamp: expect.any(String),
			level: "info",
			logger: "orders",
			message: "Order created.",
			orderId: "o-1",
			nodeID: "node-1"
		});
	});

	it("should write readable lines in the pretty format", () => {
		const lines: Array<{ level: string; line: string }> = [];
		const broker = brokerWritingTo(lines, "pretty");
		lines.length = 0;
		broker.getLogger("orders").warn("Retrying.", { attempt: 2 });

		expect(lines).toEqual([{ level: "warn", line: expect.stringMatching(/^\d{2}:\d{2}:\d{2}\.\d{3} WARN  orders     Retrying\. attempt=2$/) }]);
	});

	it("should write nothing below the configured level", () => {
		const lines: Array<{ level: string; line: string }> = [];
		const broker = brokerWritingTo(lines, "json");
		lines.length = 0;
		broker.getLogger("orders").debug("Details.");
		expect(lines).toEqual([]);
	});
});
