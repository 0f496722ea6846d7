/**
 * Embedded databases for the tests, without PostgreSQL's initdb each time: initdb of a fresh PGlite
 * folder takes about 5 s, opening a copy of an initialised one well under 1 s. The first system of
 * a run initialises one empty cluster (no tables: every system still runs its own migrations on its
 * copy) and later ones copy it. The product itself always starts from initdb (npm start, the e2e
 * tests); only the in-process test systems use the copy.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The package's `exports` hide its package.json from require().
const PGLITE_VERSION = (
	JSON.parse(readFileSync(join(__dirname, "../../node_modules/@electric-sql/pglite/package.json"), "utf8")) as { version: string }
).version;
const TEMPLATE = join(tmpdir(), `order-pipeline-pglite-template-${PGLITE_VERSION}`);

let ready: Promise<string> | undefined;

/** An initialised, empty PGlite folder to copy from; made once per machine and PGlite version. */
function template(): Promise<string> {
	ready ??= (async () => {
		if (existsSync(join(TEMPLATE, "PG_VERSION"))) return TEMPLATE;
		const building = mkdtempSync(`${TEMPLATE}-building-`);
		const { PGlite } = await import("@electric-sql/pglite");
		const db = await PGlite.create(building);
		await db.close();
		try {
			// Atomic: a run that stops half-way leaves a -building- folder, never a broken template.
			renameSync(building, TEMPLATE);
		} catch {
			// Another run made it first.
			rmSync(building, { recursive: true, force: true });
		}
		return TEMPLATE;
	})();
	return ready;
}

/** Fills `<dataDir>/orders` and `<dataDir>/processor` with copies of the initialised template. */
export async function seedEmbeddedDatabases(dataDir: string): Promise<void> {
	const source = await template();
	for (const service of ["orders", "processor"]) cpSync(source, join(dataDir, service), { recursive: true });
}
