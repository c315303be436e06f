/** `deno task migrate`: applies the SQL migrations and creates the Kafka topics. */
import { KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { migrate } from "../adapters/postgres/migrate.ts";
import { ensureTopics } from "./parts.ts";
import { boot, openDatabase } from "./wiring.ts";

const { config, logger } = boot("migrate");
const db = await openDatabase(config);
try {
  const applied = await migrate(db, (version) => logger.info("migration applied", { version }));
  logger.info(applied.length ? "database migrated" : "database already up to date", {
    applied: applied.length,
  });
} finally {
  await db.close();
}
if (!Deno.args.includes("--no-topics")) {
  await ensureTopics(new KafkaTopics({ brokers: config.KAFKA_BROKERS, logger }), config, logger);
  logger.info("topics ready");
}
