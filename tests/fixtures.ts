/** The likes pipeline assembled in-process on real servers, the way the processes assemble it. */
import { createApp } from "../adapters/http/app.ts";
import { KafkajsTransport } from "../adapters/kafka/kafkajs.ts";
import { PostgresOutboxSource } from "../adapters/postgres/outbox_store.ts";
import { PostgresLikeStore } from "../adapters/postgres/like_store.ts";
import { interactionUnitOfWork, likeProjectionUnitOfWork } from "../adapters/postgres/unit_of_work.ts";
import { isTransientDatabaseError, type SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { RedisLikeCache } from "../adapters/redis/like_cache.ts";
import { projectLikeCounts } from "../application/interaction/project_like_counts.ts";
import { systemClock } from "../application/ports.ts";
import { startConsumer } from "../outbox/consumer.ts";
import { startRelay } from "../outbox/relay.ts";
import { env, testLogger, testRedis } from "./helpers.ts";

/** Retries fast enough for tests: 3 retries, 20 ms doubling. */
export const fastRetry = { maxRetries: 3, baseDelayMs: 20, factor: 2, maxDelayMs: 1000 };

/** The API app, the cache and Redis for one test's schema and topic. */
export function likesApi(db: SqlDatabase & { schema: string }, topic: string) {
  // The relays of tests listen on outbox_<schema>, as the processes do (bin/wiring.ts).
  const redisHandle = testRedis();
  const { redis, prefix } = redisHandle;
  const cache = new RedisLikeCache(redis, { prefix });
  const app = createApp({
    logger: testLogger,
    likes: {
      unitOfWork: interactionUnitOfWork(db, { channel: `outbox_${db.schema}` }),
      queries: new PostgresLikeStore(db),
      cache,
      clock: systemClock,
      logger: testLogger,
      topic,
    },
    checks: { postgres: () => db.query("select 1") },
  });
  return {
    app,
    redis,
    cache,
    prefix,
    [Symbol.asyncDispose]: () => redisHandle[Symbol.asyncDispose](),
  };
}

/** A relay over the test schema, publishing with kafkajs. */
export async function relayFor(
  db: SqlDatabase & { schema: string },
  options: { concurrency?: number; brokers?: string[]; maxBackoffMs?: number } = {},
) {
  const source = new PostgresOutboxSource(db, { channel: `outbox_${db.schema}` });
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

/** The like-persistence consumer over the test schema. */
export async function likeConsumerFor(
  db: SqlDatabase,
  topic: string,
  cache: RedisLikeCache,
  options: { flushEveryMs?: number; maxSize?: number; brokers?: string[] } = {},
) {
  const transport = new KafkajsTransport({ brokers: options.brokers ?? env.brokers });
  const consumer = await startConsumer({
    group: `${topic}.like-persistence-group`,
    topics: [topic],
    handle: projectLikeCounts({ cache, logger: testLogger }),
    subscriber: transport,
    unitOfWork: likeProjectionUnitOfWork(db),
    deadLetters: transport,
    retry: fastRetry,
    batch: { maxSize: options.maxSize ?? 100, flushEveryMs: options.flushEveryMs ?? 100 },
    isTransient: isTransientDatabaseError,
    logger: testLogger,
  });
  return {
    async [Symbol.asyncDispose]() {
      await consumer.stop();
      await transport.close();
    },
  };
}
