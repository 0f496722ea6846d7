/**
 * Statistics that keep the hot path's prepared statements on their keys while a table is new.
 *
 * A named statement keeps the generic plan PostgreSQL makes at its sixth run, until the table's
 * next vacuum or analyze. The planner takes a table that was never vacuumed nor analyzed for at
 * least ten pages, so on a new table a lookup by key plans as an index scan. Once a table has been
 * analyzed with a few rows on one page, reading that page whole is rightly cheaper; but the cached
 * plan then keeps reading the whole table as it grows, until autovacuum comes by again, up to a
 * minute later and tens of thousands of rows on. Autovacuum's defaults analyze a table after 50
 * changed rows: these thresholds wait for 2000, tens of pages, past the size where a key lookup
 * loses to reading the table. The scale factors stay: on a large table they decide when.
 */
import type { QueryInterface } from "sequelize";
import type { Migration } from "./migrator";

/** The first autovacuum and autoanalyze of a table wait for this many changed or inserted rows. */
export const FIRST_ANALYZE_ROWS = 2000;

/** The migration that keeps `tables` unanalyzed until they hold {@link FIRST_ANALYZE_ROWS} rows. */
export function hotTableStatisticsMigration(name: string, tables: string[]): Migration {
	return {
		name,
		async up(qi: QueryInterface) {
			for (const table of tables) {
				await qi.sequelize.query(
					`ALTER TABLE ${table} SET (autovacuum_vacuum_threshold = ${FIRST_ANALYZE_ROWS},
					   autovacuum_vacuum_insert_threshold = ${FIRST_ANALYZE_ROWS}, autovacuum_analyze_threshold = ${FIRST_ANALYZE_ROWS})`
				);
			}
		},
		async down(qi: QueryInterface) {
			for (const table of tables) {
				await qi.sequelize.query(
					`ALTER TABLE ${table} RESET (autovacuum_vacuum_threshold, autovacuum_vacuum_insert_threshold, autovacuum_analyze_threshold)`
				);
			}
		}
	};
}
