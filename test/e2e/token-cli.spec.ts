/**
 * `npm run token` (dist/bin/token.js) as a person types it: `--help` answers, and each mistake gets
 * one line saying what is wrong and the usage line, never the argument parser's own text.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { jwtVerify } from "jose";
import { TEST_JWT_SECRET } from "../support/auth";

const TOKEN_JS = join(__dirname, "..", "..", "dist", "bin", "token.js");
const USAGE = "usage: npm run -s token -- --sub <customer id> [--role customer|admin] [--ttl <seconds>]";

function token(...args: string[]) {
	const run = spawnSync(process.execPath, [TOKEN_JS, ...args], { env: { PATH: process.env.PATH ?? "", JWT_SECRET: TEST_JWT_SECRET }, encoding: "utf8" });
	return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("Test 'npm run token'", () => {
	it.each(["--help", "-h"])("should print the usage and what each option means on %s, exit 0", flag => {
		const { code, stdout, stderr } = token(flag);
		expect(code).toBe(0);
		expect(stdout.split("\n")[0]).toBe(USAGE);
		expect(stdout).toContain("--ttl <seconds>");
		expect(stderr).toBe("");
	});

	it.each([
		[["word"], "Unexpected argument 'word': give each value after its option, e.g. --sub word."],
		[["--sub"], "--sub needs a value."],
		[["--sub", "--role", "admin"], "--sub needs a value."],
		[["--sub", "c-1", "--ttl", "-5"], "--ttl must be a whole number of seconds from 1 to 86400, not '-5'."],
		[["--sub", "c-1", "--role", "root"], "--role must be one of customer, admin, not 'root'."],
		[["--sub", "c-1", "--colour", "red"], "Unknown option '--colour': the options are --sub, --role, --ttl and --help."],
		[[], "--sub is required: the customer id the token acts as."]
	])("should answer %j with one line saying what is wrong and the usage, exit 2", (args, message) => {
		const { code, stdout, stderr } = token(...args);
		expect(code).toBe(2);
		expect(stdout).toBe("");
		expect(stderr).toBe(`${message}\n${USAGE}\n`);
	});

	it("should print a token alone for good arguments", async () => {
		const { code, stdout } = token("--sub", "c-1", "--role", "admin", "--ttl=600");
		expect(code).toBe(0);
		const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode(TEST_JWT_SECRET));
		expect(payload).toMatchObject({ sub: "c-1", role: "admin" });
		expect(payload.exp! - payload.iat!).toBe(600);
	});
});
