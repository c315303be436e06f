/** Versioned SQL migrations: each file in migrations/ applied once, in name order, under a lock. */
import type { SqlDatabase } from "./sql_client.ts";

const migrationsDir = new URL("./migrations/", import.meta.url);

/** A migration file. */
export interface Migration {
  readonly version: string;
  readonly sql: string;
}

/** Reads the migration files in version order. */
export async function loadMigrations(): Promise<Migration[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(migrationsDir)) {
    if (entry.isFile && entry.name.endsWith(".sql")) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(names.map(async (name) => ({
    version: name.replace(/\.sql$/, ""),
    sql: await Deno.readTextFile(new URL(name, migrationsDir)),
  })));
}

/** Applies the migrations not applied yet; returns the versions applied now. */
export async function migrate(db: SqlDatabase, onApplied?: (version: string) => void): Promise<string[]> {
  await db.exec(
    "create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())",
  );
  const migrations = await loadMigrations();
  const applied: string[] = [];
  for (const migration of migrations) {
    const done = await db.transaction(async (tx) => {
      // Two migrators at once: the second waits here, then sees the version recorded.
      await tx.query("select pg_advisory_xact_lock(hashtext('schema_migrations'))");
      const seen = await tx.query("select 1 from schema_migrations where version = $1", [migration.version]);
      if (seen.length > 0) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query("insert into schema_migrations (version) values ($1)", [migration.version]);
      return true;
    });
    if (done) {
      applied.push(migration.version);
      onApplied?.(migration.version);
    }
  }
  return applied;
}

/** Splits a migration into statements (no dollar quoting or semicolons in strings in our migrations). */
function splitStatements(sql: string): string[] {
  return sql
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n")
    .split(";")
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}
