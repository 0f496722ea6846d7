#!/usr/bin/env node
/**
 * Builds dist/ (`tsc -p <tsconfig>`) when a source changed since the last build of that tsconfig,
 * and only then. The product's build (tsconfig.build.json, the default) is what `npm start`,
 * `npm run dev`, `npm run token` and `npm test` run first, and `npm install` / `npm ci` once
 * (`prepare`); `npm run bench` and `npm run chaos` then build the tools too (tsconfig.tools.json:
 * bench/, scripts/ and the test kit they share with the tests), so a test run never waits for them.
 *
 * The sources are what the build reads: the files and folders of the tsconfig's `include`, every
 * tsconfig*.json, package.json and package-lock.json. A build records, in dist/.<name>-stamp
 * (`.build-stamp`, `.tools-stamp`), the time it started; its output is up to date while no source
 * (nor folder: a file removed) is newer.
 *
 * Several starts at once (the README's cluster recipe) build once: the builder holds
 * dist/.build.lock (its pid) and the others wait for it, then find dist/ up to date. One lock for
 * every tsconfig: the tools' build writes the product's files it imports too. The lock is removed
 * however the build ends; a lock whose process is gone, or older than {@link STALE_LOCK_MS}, is
 * taken over with a warning.
 *
 * Options (for the tests and the tools): `--root <dir>` (default: this repository), `--tsconfig
 * <file>` (default: tsconfig.build.json). Messages go to stderr, tsc's included: `npm run -s
 * token`'s stdout is the token.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { randomUUID } = require("node:crypto");

/** A build takes about 30 s on two cores; a lock this old belongs to no build still running. */
const STALE_LOCK_MS = 10 * 60 * 1000;
/** How often a waiting start looks at the lock. */
const POLL_MS = 200;
/** A lock file still empty this long after its creation was left by a process that died creating it. */
const UNWRITTEN_LOCK_MS = 5000;

function option(name, fallback) {
	const at = process.argv.indexOf(name);
	return at > 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const root = path.resolve(option("--root", path.join(__dirname, "..")));
const tsconfig = option("--tsconfig", "tsconfig.build.json");
const dist = path.join(root, "dist");
// tsconfig.build.json → .build-stamp, tsconfig.tools.json → .tools-stamp
const stampFile = path.join(dist, `.${path.basename(tsconfig, ".json").replace(/^tsconfig\./, "")}-stamp`);
const lockFile = path.join(dist, ".build.lock");

const say = message => process.stderr.write(`${message}\n`);
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** The files and folders the build reads: each `include` pattern up to its first wildcard (`lib/**\/*.ts` → `lib`). */
function sourceRoots() {
	const { include = [] } = JSON.parse(fs.readFileSync(path.join(root, tsconfig), "utf8"));
	const literalPrefix = pattern => {
		const segments = pattern.split("/");
		const wild = segments.findIndex(segment => /[*?]/.test(segment));
		return segments.slice(0, wild < 0 ? segments.length : wild).join("/");
	};
	const roots = new Set(include.map(literalPrefix).filter(Boolean));
	for (const name of fs.readdirSync(root)) if (/^tsconfig.*\.json$/.test(name)) roots.add(name);
	roots.add("package.json");
	roots.add("package-lock.json");
	return [...roots].map(name => path.join(root, name));
}

/** The newest modification time among the sources, in ms; folders count, so a removed file does. */
function newestSourceTime() {
	let newest = 0;
	const visit = entry => {
		let stat;
		try {
			stat = fs.statSync(entry);
		} catch {
			return;
		}
		newest = Math.max(newest, stat.mtimeMs);
		if (!stat.isDirectory()) return;
		for (const name of fs.readdirSync(entry)) if (name !== "node_modules" && !name.startsWith(".")) visit(path.join(entry, name));
	};
	sourceRoots().forEach(visit);
	return newest;
}

/** When the stamp was last written, or 0 when there is none. */
function stampTime() {
	try {
		return fs.statSync(stampFile).mtimeMs;
	} catch {
		return 0;
	}
}

function isUpToDate() {
	try {
		const { sourcesAsOf } = JSON.parse(fs.readFileSync(stampFile, "utf8"));
		return newestSourceTime() < sourcesAsOf;
	} catch {
		return false;
	}
}

function isAlive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return err.code === "EPERM";
	}
}

/** The lock's holder, or why the lock is stale (`null` when there is no lock). */
function readLock() {
	let text, stat;
	try {
		stat = fs.statSync(lockFile);
		text = fs.readFileSync(lockFile, "utf8");
	} catch (err) {
		if (err.code === "ENOENT") return null;
		throw err;
	}
	const age = Date.now() - stat.mtimeMs;
	let holder;
	try {
		holder = JSON.parse(text);
	} catch {
		return age > UNWRITTEN_LOCK_MS ? { stale: "it was never written" } : { pid: undefined };
	}
	if (!isAlive(holder.pid)) return { ...holder, stale: `its process ${holder.pid} is gone` };
	if (age > STALE_LOCK_MS) return { ...holder, stale: `it is ${Math.round(age / 1000)} s old` };
	return holder;
}

/** Takes the lock; false when another process holds it. */
function tryLock(token) {
	try {
		fs.writeFileSync(lockFile, JSON.stringify({ pid: process.pid, token, since: new Date().toISOString() }), { flag: "wx" });
		return true;
	} catch (err) {
		if (err.code === "EEXIST") return false;
		throw err;
	}
}

/** Removes the lock if it is still this process's (a start that took it over as stale keeps its own). */
function unlock(token) {
	try {
		if (JSON.parse(fs.readFileSync(lockFile, "utf8")).token === token) fs.rmSync(lockFile, { force: true });
	} catch {
		/* gone already */
	}
}

/**
 * Moves a stale lock out of the way. Renaming is atomic, so of two starts that found it stale only
 * one moves it; a start that finds the lock gone tries to take it like any other.
 */
function removeStaleLock(reason) {
	const aside = `${lockFile}.${process.pid}.stale`;
	try {
		fs.renameSync(lockFile, aside);
	} catch (err) {
		if (err.code === "ENOENT") return;
		throw err;
	}
	fs.rmSync(aside, { force: true });
	say(`ensure-build: took over ${path.relative(root, lockFile)}: ${reason}.`);
}

function tscPath() {
	return require.resolve("typescript/bin/tsc", { paths: [root, __dirname] });
}

/** Runs tsc; resolves with its exit code. The lock is released on a signal too. */
function build(token) {
	return new Promise(resolve => {
		const startedAt = Date.now();
		say(`ensure-build: sources changed since the last build; building ${path.relative(process.cwd(), dist) || "dist"}/ (${tsconfig}) …`);
		// tsc writes its errors to stdout; here they go to stderr with the rest.
		const child = spawn(process.execPath, [tscPath(), "-p", path.join(root, tsconfig)], { cwd: root, stdio: ["ignore", 2, 2] });
		const onSignal = signal => {
			child.kill(signal);
			unlock(token);
			process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGHUP" ? 1 : 15));
		};
		const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
		for (const signal of signals) process.on(signal, onSignal);
		child.on("close", code => {
			for (const signal of signals) process.off(signal, onSignal);
			if (code === 0) {
				fs.writeFileSync(stampFile, JSON.stringify({ sourcesAsOf: startedAt, builtAt: new Date().toISOString() }) + "\n");
				say(`ensure-build: built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s.`);
			} else {
				say(`ensure-build: the build failed (tsc exit code ${code}).`);
			}
			resolve(code ?? 1);
		});
	});
}

async function main() {
	if (isUpToDate()) return 0;
	fs.mkdirSync(dist, { recursive: true });
	const token = randomUUID();
	let waitingFor;
	let stampSeen = stampTime();
	for (;;) {
		if (tryLock(token)) {
			try {
				// Another start may have built while this one waited for the lock.
				return isUpToDate() ? 0 : await build(token);
			} finally {
				unlock(token);
			}
		}
		const holder = readLock();
		if (holder?.stale) removeStaleLock(holder.stale);
		else if (holder) {
			if (holder.pid && holder.pid !== waitingFor) {
				waitingFor = holder.pid;
				say(`ensure-build: waiting for the build of process ${holder.pid} …`);
			}
			await sleep(POLL_MS);
			// The build waited for writes its stamp before it lets go of the lock. Only a new stamp is
			// worth a look at the sources: walking them every poll would slow that very build.
			const stamped = stampTime();
			if (stamped !== stampSeen && isUpToDate()) return 0;
			stampSeen = stamped;
		}
	}
}

main().then(
	code => process.exit(code),
	err => {
		say(`ensure-build: ${err.stack ?? err}`);
		process.exit(1);
	}
);
