/**
 * Four tiers, one jest project each:
 * - unit: pure functions, no broker, no database (the bench's load generator talks to loopback servers);
 * - broker: a ServiceBroker without transporter, databases on embedded PostgreSQL (PGlite);
 * - integration: the real PostgreSQL and RabbitMQ of this machine;
 * - e2e: the product's own processes over the real RabbitMQ and PostgreSQL.
 * `npm test` (scripts/test.js) picks the tiers whose services are reachable, and runs jest with
 * --experimental-vm-modules: PGlite loads its WASM with a dynamic import.
 */
const tier = name => ({
	displayName: name,
	testMatch: [`<rootDir>/test/${name}/**/*.spec.ts`],
	transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.json" }] },
	testEnvironment: "node"
});

module.exports = {
	// Per test and hook; the slow ones are the e2e tests that start processes.
	testTimeout: 120_000,
	// The tests mostly wait (on PostgreSQL, RabbitMQ, the product's processes): three files at once
	// even on two cores. jest's default there (cores - 1) runs one file at a time: on this 2-core
	// machine npm test took 8m26 with one, 5m25 with two and 3m55 with three files at once.
	maxWorkers: Math.max(3, require("node:os").availableParallelism() - 1),
	projects: [tier("unit"), tier("broker"), tier("integration"), tier("e2e")]
};
