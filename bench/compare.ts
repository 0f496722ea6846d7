/**
 * BENCH_COMPARE_REF: the product as it was at another commit, built in a throwaway directory so that
 * the `load` scenario can run it as a third target next to the current product. An optimisation is
 * then measured before and after in the same run, on the same machine at the same moment, which
 * holds up far better than two runs minutes apart on a shared machine.
 *
 * The checkout is `git archive` unpacked into a temp dir (nothing to unregister, unlike a worktree),
 * with this checkout's node_modules linked in: the old commit is built and run with today's
 * dependencies, which is what an optimisation of our own code should be measured against.
 */
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cleanups } from "./cleanups";

/** The repository root, seen from dist/bench. */
const ROOT = join(__dirname, "..", "..");

/** The longest the build of the other commit may take; tsc needs seconds here. */
const BUILD_TIMEOUT_MS = 5 * 60_000;

export interface CompareCheckout {
	/** As given in BENCH_COMPARE_REF. */
	ref: string;
	commit: string;
	/** The target's name: `product@<short commit>`. */
	target: string;
	/** That commit's dist/bin/start.js, built. */
	entry: string;
}

/** Runs a command to its end, its output on our stderr; fails with `what` if it exits non-zero. */
function run(what: string, command: string, args: string[], cwd: string, cleanups: Cleanups, timeoutMs: number): Promise<void> {
	const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
	child.stdout.on("data", chunk => process.stderr.write(chunk));
	child.stderr.on("data", chunk => process.stderr.write(chunk));
	// Interrupted while it runs: the temp dir is about to go, so the command goes first.
	cleanups.add(`stop ${what}`, async () => void child.kill("SIGKILL"));
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
		child.once("error", err => reject(new Error(`${what}: ${err.message}`)));
		child.once("exit", (code, signal) => {
			clearTimeout(timer);
			if (code === 0) resolve();
			else reject(new Error(`${what} failed (${signal ?? `exit code ${code}`}); its output is above`));
		});
	});
}

/** Resolves `ref` to a commit of this repository, or fails saying it is not one. */
function resolveCommit(ref: string): string {
	try {
		return execFileSync("git", ["-C", ROOT, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
	} catch {
		throw new Error(`BENCH_COMPARE_REF='${ref}' is not a commit of the repository at ${ROOT} (git rev-parse found nothing).`);
	}
}

/**
 * Unpacks `ref` into a temp dir, links node_modules and builds it; the temp dir is removed with the
 * run's other leftovers. Progress and tsc's output go to stderr.
 */
export async function prepareCompareCheckout(ref: string, cleanups: Cleanups, log: (message: string) => void): Promise<CompareCheckout> {
	const commit = resolveCommit(ref);
	const short = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", commit], { encoding: "utf8" }).trim();
	const dir = mkdtempSync(join(tmpdir(), `order-pipeline-compare-${short}-`));
	cleanups.add(`temp dir ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));

	log(`compare: unpacking ${ref} (${short}) into ${dir}`);
	// Through a tar file rather than a pipe between two processes: one failure to report, not two.
	const tarFile = join(dir, ".archive.tar");
	await run(`git archive ${short}`, "git", ["-C", ROOT, "archive", "--format=tar", "-o", tarFile, commit], dir, cleanups, 60_000);
	await run(`unpacking ${short}`, "tar", ["-x", "-f", tarFile, "-C", dir], dir, cleanups, 60_000);
	rmSync(tarFile);
	// The real directory, not a link to a link: tsc and Node resolve modules from there.
	symlinkSync(realpathSync(join(ROOT, "node_modules")), join(dir, "node_modules"), "dir");

	log(`compare: building ${short} (tsc -p tsconfig.build.json in ${dir})`);
	const tsc = join(dir, "node_modules", "typescript", "bin", "tsc");
	await run(`the build of ${ref} (${short})`, process.execPath, [tsc, "-p", "tsconfig.build.json"], dir, cleanups, BUILD_TIMEOUT_MS);
	const entry = join(dir, "dist", "bin", "start.js");
	if (!existsSync(entry)) throw new Error(`the build of ${ref} (${short}) made no dist/bin/start.js`);
	log(`compare: ${short} built`);
	return { ref, commit, target: `product@${short}`, entry };
}
