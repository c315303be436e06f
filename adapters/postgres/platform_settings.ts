/** Settings recorded in the database so that every process runs with the same values. */
import type { SqlClient } from "./sql_client.ts";

/** A process is configured differently from what the database recorded. */
export class SettingMismatchError extends Error {
  override readonly name = "SettingMismatchError";
}

/** The database has no recorded value yet: it was not migrated by this version (`deno task migrate`). */
export class SettingMissingError extends Error {
  override readonly name = "SettingMissingError";
}

/**
 * Records `value` for `name` when nothing is recorded yet (the first migrate), then checks that the recorded
 * value is `value`; throws SettingMismatchError naming both otherwise. `variable` names the configuration.
 */
export async function recordSetting(
  db: SqlClient,
  variable: string,
  name: string,
  value: string,
): Promise<void> {
  await db.query("insert into platform_settings (name, value) values ($1, $2) on conflict do nothing", [
    name,
    value,
  ]);
  await expectSetting(db, variable, name, value);
}

/** Throws unless the database recorded `value` for `name`. */
export async function expectSetting(
  db: SqlClient,
  variable: string,
  name: string,
  value: string,
): Promise<void> {
  const rows = await db.query<{ value: string }>("select value from platform_settings where name = $1", [
    name,
  ]);
  if (rows.length === 0) {
    throw new SettingMissingError(`the database records no ${name} yet: run \`deno task migrate\` first`);
  }
  if (rows[0].value !== value) {
    throw new SettingMismatchError(
      `${variable}=${value} but this database was set up with ${name} ${rows[0].value}: ` +
        `run every process with ${variable}=${
          rows[0].value
        } (changing it needs an empty outbox and a migration)`,
    );
  }
}
