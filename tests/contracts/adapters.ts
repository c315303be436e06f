/** The adapters each contract suite runs against: real servers, and the embedded stand-ins. */
import { openPglite } from "../../adapters/pglite/pglite.ts";
import { migrate } from "../../adapters/postgres/migrate.ts";
import type { SqlDatabase } from "../../adapters/postgres/sql_client.ts";
import { testDatabase } from "../helpers.ts";

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
    await migrate(db);
    return db;
  })();
  const db = await shared;
  await db.exec(
    "truncate outbox, inbox, likes, like_counts, transport_partitions, transport_messages, transport_positions",
  );
  await db.exec("drop table if exists test_effects");
  // The shared instance stays open for the next test: closing and disposing are no-ops.
  return {
    ...db,
    schema: "public",
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
};

export { testRedis } from "../helpers.ts";
