/** Building blocks the composition roots share: each turns configuration into one adapter. */
import { Redis } from "ioredis";
import { connectPostgres } from "../adapters/postgres/postgres_js.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { KafkajsTransport } from "../adapters/kafka/kafkajs.ts";
import { PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import { consoleLogger } from "../adapters/log/logger.ts";
import type { Logger } from "../application/ports.ts";
import type { OutboxSourceSettings } from "../adapters/postgres/outbox_store.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";

/** Loads configuration and a logger for `process`; exits with the variable named on a bad value. */
export function boot(process: string, options: { quiet?: boolean } = {}): { config: Config; logger: Logger } {
  try {
    const config = loadConfig();
    // A quiet process (start) prints its own progress; its logs show warnings unless LOG_LEVEL asks for more.
    const level = options.quiet && !Deno.env.get("LOG_LEVEL") ? "warn" : config.LOG_LEVEL;
    return { config, logger: consoleLogger({ level, format: config.LOG_FORMAT, base: { process } }) };
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      Deno.exit(2);
    }
    throw error;
  }
}

/** Opens the PostgreSQL pool. */
export function openDatabase(config: Config): Promise<SqlDatabase> {
  return connectPostgres(config.DATABASE_URL, { schema: config.DATABASE_SCHEMA, max: config.DATABASE_POOL });
}

/** Outbox settings both writers and relays use; channel and lock namespace follow the schema. */
export function outboxSettings(config: Config): OutboxSourceSettings {
  let hash = 0;
  for (const char of config.DATABASE_SCHEMA) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return { channel: `outbox_${config.DATABASE_SCHEMA}`, buckets: config.OUTBOX_BUCKETS, lockNamespace: hash };
}

/** The Kafka transport, on the client KAFKA_CLIENT names (both pass the same contract suite). */
export function kafkaTransport(config: Config, logger: Logger): KafkajsTransport | PlatformaticTransport {
  const settings = { brokers: config.KAFKA_BROKERS, logger };
  return config.KAFKA_CLIENT === "kafkajs"
    ? new KafkajsTransport(settings)
    : new PlatformaticTransport(settings);
}

/** The Redis client; commands fail fast while Redis is down instead of queueing forever. */
export function openRedis(config: Config): Redis {
  return new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    lazyConnect: false,
  });
}

/** Resolves on the first SIGINT or SIGTERM. */
export function shutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });
}
