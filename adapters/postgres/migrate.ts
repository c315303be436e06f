/**
 * Versioned SQL migrations per scope: the platform's and each context's own folder, applied in file-name order
 * and tracked as (scope, version), so contexts written on separate branches cannot collide. Runs under a lock.
 */
import type { SqlClient, SqlDatabase } from "./sql_client.ts";

/** The platform's own migrations (outbox, inbox, transport, settings). */
export const platformMigrations: MigrationScope = {
  scope: "platform",
  folder: new URL("./migrations/", import.meta.url),
};

/** A folder of migrations and the scope they are tracked under. */
export interface MigrationScope {
  readonly scope: string;
  readonly folder: URL;
}

/** A migration file. */
export interface Migration {
  readonly scope: string;
  readonly version: string;
  readonly sql: string;
}

/** Reads a scope's migration files in version order. */
export async function loadMigrations(scope: MigrationScope): Promise<Migration[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(scope.folder)) {
    if (entry.isFile && entry.name.endsWith(".sql")) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(names.map(async (name) => ({
    scope: scope.scope,
    version: name.replace(/\.sql$/, ""),
    sql: await Deno.readTextFile(new URL(name, scope.folder)),
  })));
}

/**
 * Applies the migrations not applied yet, the platform's first, then each scope's in the order given; returns
 * the `scope/version`s applied now.
 */
export async function migrate(
  db: SqlDatabase,
  scopes: readonly MigrationScope[],
  onApplied?: (applied: string) => void,
): Promise<string[]> {
  const all = (await Promise.all([platformMigrations, ...scopes].map(loadMigrations))).flat();
  await db.transaction(async (tx) => {
    await lock(tx);
    await tx.query(
      `create table if not exists schema_migrations (
         scope text not null, version text not null, applied_at timestamptz not null default now(),
         primary key (scope, version))`,
    );
    await upgradeUnscoped(tx, all);
  });
  const applied: string[] = [];
  for (const migration of all) {
    const done = await db.transaction(async (tx) => {
      // Two migrators at once: the second waits here, then sees the version recorded.
      await lock(tx);
      const seen = await tx.query(
        "select 1 from schema_migrations where scope = $1 and version = $2",
        [migration.scope, migration.version],
      );
      if (seen.length > 0) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query("insert into schema_migrations (scope, version) values ($1, $2)", [
        migration.scope,
        migration.version,
      ]);
      return true;
    });
    if (done) {
      applied.push(`${migration.scope}/${migration.version}`);
      onApplied?.(`${migration.scope}/${migration.version}`);
    }
  }
  return applied;
}

function lock(tx: SqlClient): Promise<unknown> {
  return tx.query("select pg_advisory_xact_lock(hashtext('schema_migrations'))");
}

/**
 * A database migrated before scopes existed has `schema_migrations(version)` with one folder's versions: each
 * recorded version is given the scope whose folder holds a file of that name, in place, keeping every row.
 */
async function upgradeUnscoped(tx: SqlClient, known: readonly Migration[]): Promise<void> {
  const [{ scoped }] = await tx.query<{ scoped: boolean }>(
    `select exists (select 1 from information_schema.columns
                    where table_schema = current_schema() and table_name = 'schema_migrations'
                      and column_name = 'scope') as scoped`,
  );
  if (scoped) return;
  const versions = await tx.query<{ version: string }>("select version from schema_migrations");
  const unknown = versions.filter((row) => !known.some((m) => m.version === row.version));
  if (unknown.length > 0) {
    throw new Error(
      `schema_migrations records versions no folder has (${unknown.map((r) => r.version).join(", ")}); ` +
        "refusing to guess their scope",
    );
  }
  await tx.query("alter table schema_migrations add column scope text");
  for (const { version } of versions) {
    const owner = known.find((m) => m.version === version)!;
    await tx.query("update schema_migrations set scope = $1 where version = $2", [owner.scope, version]);
  }
  await tx.query("alter table schema_migrations alter column scope set not null");
  await tx.query("alter table schema_migrations drop constraint schema_migrations_pkey");
  await tx.query("alter table schema_migrations add primary key (scope, version)");
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
