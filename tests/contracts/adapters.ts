/** The adapters each contract suite runs against: real servers, and the embedded stand-ins. */
import { openPglite } from "../../adapters/pglite/pglite.ts";
import { migrate } from "../../adapters/postgres/migrate.ts";
import type { SqlDatabase } from "../../adapters/postgres/sql_client.ts";
import { loadConfig } from "../../bin/config.ts";
import { modules } from "../../bin/modules.ts";
import { migrationScopes, recordBucketCount } from "../../bin/runtime.ts";
import { testDatabase } from "../helpers.ts";

// Kept across tests: what migrations and the first migrate record.
const keep = new Set(["schema_migrations", "platform_settings"]);

/** Empties every table of the current schema (listed, not named: a new context's tables are included). */
async function emptyTables(db: SqlDatabase): Promise<void> {
  const tables = await db.query<{ name: string }>(
    "select tablename as name from pg_tables where schemaname = current_schema() order by tablename",
  );
  const names = tables.map((t) => t.name).filter((name) => !keep.has(name));
  if (names.length > 0) await db.exec(`truncate ${names.map((n) => `"${n}"`).join(", ")}`);
}

/** A migrated, empty database for one test; disposing it cleans up. */
export type TestDb = SqlDatabase & { readonly schema: string; [Symbol.asyncDispose](): Promise<void> };

/** Opens a database under test. */
export type OpenDb = () => Promise<TestDb>;

/** PostgreSQL server: a fresh schema per test. */
export const openPostgres: OpenDb = () => testDatabase();

let shared: Promise<SqlDatabase> | undefined;

/**
 * PGlite, in memory. Creating one takes seconds, so the tests of a file share one and empty its tables
 * before each test (PGlite has a single session: tests cannot overlap anyway).
 */
export const openEmbedded: OpenDb = async () => {
  shared ??= (async () => {
    const db = await openPglite();
    await migrate(db, migrationScopes(modules));
    await recordBucketCount(db, loadConfig({}));
    return db;
  })();
  const db = await shared;
  await emptyTables(db);
  // The shared instance stays open for the next test: closing and disposing are no-ops.
  return {
    ...db,
    schema: "public",
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
};

export { testRedis } from "../helpers.ts";
