/** `deno task migrate`: applies the platform's and every context's migrations and creates the topics. */
import { migrate } from "../adapters/postgres/migrate.ts";
import { boot, kafkaAdmin, openDatabase } from "./infrastructure.ts";
import { modules } from "./modules.ts";
import { ensureTopics, migrationScopes, recordBucketCount, settingsProblems } from "./runtime.ts";

const { config, logger } = boot("migrate", { settingsProblems: () => settingsProblems(modules) });
const db = await openDatabase(config, logger);
try {
  const applied = await migrate(
    db,
    migrationScopes(modules),
    (version) => logger.info("migration applied", { version }),
  );
  await recordBucketCount(db, config);
  logger.info(applied.length ? "database migrated" : "database already up to date", {
    applied: applied.length,
  });
} catch (error) {
  console.error(`✗ ${error instanceof Error ? error.message : String(error)}`);
  Deno.exit(1);
} finally {
  await db.close();
}
if (!Deno.args.includes("--no-topics")) {
  const admin = kafkaAdmin(config, logger);
  await ensureTopics(admin, modules, { config, logger });
  logger.info("topics ready");
}
