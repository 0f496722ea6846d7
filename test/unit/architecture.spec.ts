/**
 * The product's modules import one another without a cycle: a cycle makes the order in which
 * modules load matter (an import read before its module has finished is undefined) and leaves
 * a newcomer no place to start reading.
 */
import path from "node:path";
import madge from "madge";

const ROOT = path.resolve(__dirname, "../..");

describe("architecture", () => {
	it("should have no import cycle in the product's modules", async () => {
		const paths = ["services", "lib", "mixins", "bin", "moleculer.config.ts"].map(p => path.join(ROOT, p));
		const graph = await madge(paths, { fileExtensions: ["ts"], tsConfig: path.join(ROOT, "tsconfig.json") });
		expect(graph.circular()).toEqual([]);
	});
});
