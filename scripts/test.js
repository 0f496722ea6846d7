#!/usr/bin/env node
/**
 * `npm test`: runs every test tier whose services are reachable.
 *
 * unit and broker tiers need nothing outside the process. integration and e2e need PostgreSQL
 * (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and RabbitMQ
 * (TEST_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672). When one is missing, those tiers are
 * skipped with a message saying how to start it — except under CI=true, where a missing service
 * fails the run. The whole project is type-checked first (tsc --noEmit). Extra arguments go to jest.
 */
"use strict";
const net = require("node:net");
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const fs = require("node:fs");
const os = require("node:os");

const pgUrl = new URL(process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres");
const amqpUrl = new URL(process.env.TEST_AMQP_URL || "amqp://guest:guest@127.0.0.1:5672");

function reachable(host, port, timeoutMs = 1500) {
	return new Promise(resolve => {
		const socket = net.connect({ host, port: Number(port) });
		const done = ok => {
			socket.destroy();
			resolve(ok);
		};
		socket.setTimeout(timeoutMs, () => done(false));
		socket.once("connect", () => done(true));
		socket.once("error", () => done(false));
	});
}

async function main() {
	const missing = [];
	if (!(await reachable(pgUrl.hostname, pgUrl.port || 5432)))
		missing.push(`PostgreSQL at ${pgUrl.host} (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, or set TEST_DATABASE_URL)`);
	if (!(await reachable(amqpUrl.hostname, amqpUrl.port || 5672)))
		missing.push(`RabbitMQ at ${amqpUrl.host} (start it: rabbitmq-server -detached, or set TEST_AMQP_URL)`);

	const projects = ["unit", "broker"];
	if (missing.length === 0) projects.push("integration", "e2e");
	else if (process.env.CI === "true") {
		console.error(`CI=true and these services are not reachable:\n- ${missing.join("\n- ")}`);
		process.exit(1);
	} else {
		console.warn(`Skipping the integration and e2e tiers; not reachable:\n- ${missing.join("\n- ")}`);
	}

	// jest only transpiles (isolatedModules): the type check of the product, the tools and the tests
	// is one tsc run here, and a type error fails the run before any test starts.
	const tsc = require.resolve("typescript/bin/tsc", { paths: [path.join(__dirname, "..")] });
	const typecheck = spawnSync(process.execPath, [tsc, "--noEmit", "-p", path.join(__dirname, "..", "tsconfig.json")], { stdio: "inherit" });
	if (typecheck.status !== 0) {
		console.error("The type check failed (tsc --noEmit, above): no test was run.");
		process.exit(typecheck.status ?? 1);
	}

	const jest = path.join(__dirname, "..", "node_modules", "jest", "bin", "jest.js");
	const report = path.join(os.tmpdir(), `order-pipeline-jest-${process.pid}.json`);
	const extra = process.argv.slice(2);
	// A caller who picks projects gets those (npm test -- --selectProjects unit).
	const select = extra.includes("--selectProjects") ? [] : ["--selectProjects", ...projects];
	const args = ["--experimental-vm-modules", jest, ...select, "--json", `--outputFile=${report}`, ...extra];
	const result = spawnSync(process.execPath, args, { stdio: "inherit" });
	if (missing.length > 0 && process.env.CI !== "true") {
		console.warn(`\nNot run: integration and e2e tiers (${missing.length} service(s) missing, see above).`);
	}
	// One plain closing line, whatever the runner's own summary looks like.
	try {
		const counts = JSON.parse(fs.readFileSync(report, "utf8"));
		fs.rmSync(report, { force: true });
		console.log(`Tests: ${counts.numPassedTests} passed, ${counts.numFailedTests} failed, ${counts.numPendingTests} skipped`);
	} catch {
		/* jest wrote no report (it failed to start): its exit code says enough */
	}
	process.exit(result.status ?? 1);
}

main();
