/**
 * The registered modules assembled in-process on real servers, the way the processes assemble them: built by
 * the platform runtime over one test's schema, topic prefix and Redis key prefix.
 */
import type { Redis } from "ioredis";
import { createApp } from "../adapters/http/app.ts";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { Metrics } from "../adapters/metrics/prometheus.ts";
import { PostgresOutboxSource } from "../adapters/postgres/outbox_store.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { type Config, loadConfig } from "../bin/config.ts";
import { lockNamespaceOf as namespaceOfSchema } from "../bin/infrastructure.ts";
import { modules } from "../bin/modules.ts";
import {
  authenticatorOf,
  buildModules,
  routesOf,
  runStopHooks,
  startConsumerGroups,
  topicSpecs,
} from "../bin/runtime.ts";
import { startRelay } from "../outbox/relay.ts";
import { env, testLogger, testRedis } from "./helpers.ts";
import { testJwtSecret } from "./users.ts";

/** Retries fast enough for tests: 3 retries, 20 ms doubling. */
export const fastRetry = { maxRetries: 3, baseDelayMs: 20, factor: 2, maxDelayMs: 1000 };

/** The prefix of a test topic `<prefix>.<name>` (what NAME_PREFIX is for the processes). */
export function namePrefixOf(topic: string): string {
  const dot = topic.indexOf(".");
  return dot < 0 ? "" : topic.slice(0, dot);
}

/** Configuration of one test, as a process would read it, with fast retries and flushes. */
export function testConfig(
  db: { schema: string },
  namePrefix: string,
  overrides: Record<string, string> = {},
): Config {
  return loadConfig({
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: namePrefix,
    KAFKA_BROKERS: env.brokers.join(","),
    RETRY_BASE_MS: "20",
    BATCH_FLUSH_MS: "100",
    // Few partitions for the topics tests create: a whole run creates thousands, and one broker holds them all.
    TOPIC_PARTITIONS: "2",
    ...overrides,
  });
}

/** The modules built for one test; the Redis client carries the test's key prefix. */
export function testModules(
  db: SqlDatabase & { schema: string },
  topic: string,
  redis: Redis,
  overrides: Record<string, string> = {},
) {
  const config = testConfig(db, namePrefixOf(topic), overrides);
  const metrics = new Metrics({ process: "test" });
  // The contexts' own settings come from the environment, with the test's secret and overrides on top.
  const env = { ...Deno.env.toObject(), JWT_SECRET: testJwtSecret, ...overrides };
  const built = buildModules(modules, { db, redis, config, logger: testLogger, metrics, env });
  return { config, metrics, built };
}

/** The API app over the registered modules, for one test's schema and topic prefix. */
export function likesApi(
  db: SqlDatabase & { schema: string },
  topic: string,
  settings: Record<string, string> = {},
) {
  const redisHandle = testRedis();
  const { built, metrics, config } = testModules(db, topic, redisHandle.prefixed, settings);
  const app = createApp({
    routes: routesOf(built),
    authenticator: authenticatorOf(built, config),
    logger: testLogger,
    metrics,
    checks: { postgres: () => db.query("select 1") },
  });
  return {
    app,
    /** A client without the prefix, for assertions on the keys the module wrote. */
    redis: redisHandle.redis,
    prefix: redisHandle.prefix,
    redisHandle,
    async [Symbol.asyncDispose]() {
      await runStopHooks(built, testLogger);
      await redisHandle[Symbol.asyncDispose]();
    },
  };
}

/** A relay over the test schema, publishing with kafkajs. */
export async function relayFor(
  db: SqlDatabase & { schema: string },
  options: { concurrency?: number; brokers?: string[]; maxBackoffMs?: number } = {},
) {
  // The relays of tests listen on outbox_<schema> and lock in their own namespace, as the processes do.
  const source = new PostgresOutboxSource(db, {
    channel: `outbox_${db.schema}`,
    lockNamespace: lockNamespaceOf(db),
  });
  await source.listen();
  const transport = new KafkajsTransport({ brokers: options.brokers ?? env.brokers });
  const relay = startRelay({
    source,
    publisher: transport,
    logger: testLogger,
    concurrency: options.concurrency ?? 2,
    pollIntervalMs: 200,
    backoff: { maxRetries: 0, baseDelayMs: 100, factor: 2, maxDelayMs: options.maxBackoffMs ?? 30_000 },
  });
  return {
    source,
    async [Symbol.asyncDispose]() {
      await relay.stop();
      await source.close();
      await transport.close();
    },
  };
}

/** An advisory-lock namespace of a test's own, as the processes derive it from their schema. */
export function lockNamespaceOf(db: { schema: string }): number {
  return namespaceOfSchema(db.schema);
}

/** Every consumer group of the registered modules over the test schema, started by the platform runtime. */
export async function likeConsumerFor(
  db: SqlDatabase & { schema: string },
  topic: string,
  redis: { prefixed: Redis },
  options: {
    flushEveryMs?: number;
    maxSize?: number;
    brokers?: string[];
    /** The modules' own settings (environment variables). */
    settings?: Record<string, string>;
  } = {},
) {
  const brokers = options.brokers ?? env.brokers;
  const { built, config, metrics } = testModules(db, topic, redis.prefixed, {
    ...options.settings,
    BATCH_FLUSH_MS: String(options.flushEveryMs ?? 100),
    BATCH_SIZE: String(options.maxSize ?? 100),
    KAFKA_BROKERS: brokers.join(","),
  });
  // Every group of every module joins: the topics the test did not create itself are created here.
  await new KafkaTopics({ brokers }).ensure(topicSpecs(modules, config));
  const transport = new KafkajsTransport({ brokers });
  const consumers = await startConsumerGroups(built, { transport, config, logger: testLogger, metrics });
  return {
    metrics,
    async [Symbol.asyncDispose]() {
      for (const consumer of consumers) await consumer.stop();
      await transport.close();
      await runStopHooks(built, testLogger);
    },
  };
}

/**
 * The environment of a process spawned by a chat test over one test's schema and topic prefix: the real
 * servers, MongoDB with a database of the test's own, and fast batch flushes; `extra` on top.
 */
export function chatProcessEnv(
  db: { schema: string },
  namePrefix: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: namePrefix,
    KAFKA_BROKERS: env.brokers.join(","),
    REDIS_URL: env.redisUrl,
    MONGO_URL: env.mongoUrl,
    MONGO_DATABASE: `chat_${db.schema}`,
    BATCH_FLUSH_MS: "100",
    ...extra,
  };
}
