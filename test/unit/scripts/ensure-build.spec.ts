/**
 * scripts/ensure-build.js, which `npm start`, `npm run dev`, `npm run token` and `npm test` run
 * first (and `npm run bench` and `npm run chaos` again for the tools): it builds only when a source
 * of its tsconfig changed, several starts at once build once, and neither a failed build nor a
 * build killed midway leaves a lock that blocks the next start. Run on a tiny
 * project of its own (`--root`), so that a build takes a second, not the product's half minute.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../support/ops-pack";

const SCRIPT = join(REPO_ROOT, "scripts", "ensure-build.js");

interface Run {
	code: number | null;
	stderr: string;
	stdout: string;
}

function ensureBuild(root: string, tsconfig?: string): Promise<Run> {
	return new Promise(resolve => {
		execFile(process.execPath, [SCRIPT, "--root", root, ...(tsconfig ? ["--tsconfig", tsconfig] : [])], { timeout: 60_000 }, (err, stdout, stderr) => {
			resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
		});
	});
}

/**
 * A project of two sources whose build writes dist/src/a.js and dist/src/b.js, and a tool (the
 * second tsconfig, as bench/ and scripts/ are) that imports one of them: dist/tools/t.js.
 */
function tinyProject(): string {
	const root = mkdtempSync(join(tmpdir(), "ensure-build-"));
	mkdirSync(join(root, "src"));
	mkdirSync(join(root, "tools"));
	const compilerOptions = { outDir: "dist", rootDir: ".", strict: true, types: [] };
	writeFileSync(join(root, "tsconfig.build.json"), JSON.stringify({ compilerOptions, include: ["src/**/*.ts"] }));
	writeFileSync(join(root, "tsconfig.tools.json"), JSON.stringify({ extends: "./tsconfig.build.json", include: ["tools/t.ts"] }));
	writeFileSync(join(root, "src", "a.ts"), "export const a: number = 1;\n");
	writeFileSync(join(root, "src", "b.ts"), "export const b: number = 2;\n");
	writeFileSync(join(root, "tools", "t.ts"), 'import { a } from "../src/a";\nexport const t: number = a + 10;\n');
	return root;
}

const builds = (...runs: Run[]) => runs.filter(run => run.stderr.includes("building")).length;
const mtimeOf = (file: string) => statSync(file).mtimeMs;

describe("Test 'scripts/ensure-build.js'", () => {
	let root: string;
	const dist = (file: string) => join(root, "dist", "src", file);
	const lock = () => join(root, "dist", ".build.lock");

	beforeEach(async () => {
		root = tinyProject();
		const first = await ensureBuild(root);
		expect(first).toMatchObject({ code: 0, stdout: "" });
		expect(builds(first)).toBe(1);
	});
	afterEach(() => rmSync(root, { recursive: true, force: true }));

	it("should return without running tsc when dist/ is up to date", async () => {
		const before = [mtimeOf(dist("a.js")), mtimeOf(dist("b.js"))];

		const again = await ensureBuild(root);

		expect(again).toEqual({ code: 0, stdout: "", stderr: "" });
		expect([mtimeOf(dist("a.js")), mtimeOf(dist("b.js"))]).toEqual(before);
	});

	it("should rebuild when a source was changed, and again when one was removed", async () => {
		writeFileSync(join(root, "src", "a.ts"), "export const a: number = 42;\n");
		const changed = await ensureBuild(root);
		expect(changed.code).toBe(0);
		expect(builds(changed)).toBe(1);
		expect(readFileSync(dist("a.js"), "utf8")).toContain("42");

		rmSync(join(root, "src", "b.ts"));
		const removed = await ensureBuild(root);
		expect(builds(removed)).toBe(1);
	});

	it("should build the product alone, and the tools only when asked, each when its own sources changed", async () => {
		const tool = join(root, "dist", "tools", "t.js");
		expect(existsSync(tool)).toBe(false);

		const tools = await ensureBuild(root, "tsconfig.tools.json");
		expect(builds(tools)).toBe(1);
		expect(existsSync(tool)).toBe(true);
		expect(builds(await ensureBuild(root, "tsconfig.tools.json"), await ensureBuild(root))).toBe(0);

		writeFileSync(join(root, "tools", "t.ts"), 'import { a } from "../src/a";\nexport const t: number = a + 20;\n');
		expect(builds(await ensureBuild(root))).toBe(0);
		expect(builds(await ensureBuild(root, "tsconfig.tools.json"))).toBe(1);
		expect(readFileSync(tool, "utf8")).toContain("20");

		writeFileSync(join(root, "src", "b.ts"), "export const b: number = 5;\n");
		expect(builds(await ensureBuild(root, "tsconfig.tools.json"))).toBe(0);
		expect(builds(await ensureBuild(root))).toBe(1);
	});

	it("should build once when two start at the same time, and let both go on", async () => {
		writeFileSync(join(root, "src", "a.ts"), "export const a: number = 3;\n");

		const runs = await Promise.all([ensureBuild(root), ensureBuild(root)]);

		expect(runs.map(run => run.code)).toEqual([0, 0]);
		expect(builds(...runs)).toBe(1);
		expect(readFileSync(dist("a.js"), "utf8")).toContain("3");
		expect(existsSync(lock())).toBe(false);
	});

	it("should take over a lock whose process is gone", async () => {
		const gone = spawnSync(process.execPath, ["-e", ""]).pid;
		writeFileSync(lock(), JSON.stringify({ pid: gone, token: "killed-build", since: new Date().toISOString() }));
		writeFileSync(join(root, "src", "a.ts"), "export const a: number = 4;\n");

		const run = await ensureBuild(root);

		expect(run.code).toBe(0);
		expect(run.stderr).toContain(`its process ${gone} is gone`);
		expect(builds(run)).toBe(1);
		expect(readFileSync(dist("a.js"), "utf8")).toContain("4");
		expect(existsSync(lock())).toBe(false);
	});

	it("should release the lock when the build fails, and try again on the next start", async () => {
		writeFileSync(join(root, "src", "a.ts"), "export const a: number = 'not a number';\n");

		const failed = await ensureBuild(root);
		expect(failed.code).not.toBe(0);
		expect(failed.stdout).toBe("");
		expect(failed.stderr).toContain("error TS2322");
		expect(existsSync(lock())).toBe(false);

		const next = await ensureBuild(root);
		expect(next.code).not.toBe(0);
		expect(builds(next)).toBe(1);
	});
});
