/** `deno task worker`: the consumer groups (like-persistence-group). */
import { purgeInbox } from "../adapters/postgres/outbox_store.ts";
import { likeProjectionUnitOfWork } from "../adapters/postgres/unit_of_work.ts";
import { isTransientDatabaseError } from "../adapters/postgres/sql_client.ts";
import { RedisLikeCache } from "../adapters/redis/like_cache.ts";
import { projectLikeCounts } from "../application/interaction/project_like_counts.ts";
import { startConsumer } from "../outbox/consumer.ts";
import { names } from "./config.ts";
import { boot, ensureTopics, kafkaTransport, openDatabase, openRedis, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("worker");
const db = await openDatabase(config);
const redis = openRedis(config);
const transport = kafkaTransport(config, logger);
await ensureTopics(config, logger);
const { interactionTopic, likePersistenceGroup } = names(config);

const consumers = [
  await startConsumer({
    group: likePersistenceGroup,
    topics: [interactionTopic],
    handle: projectLikeCounts({ cache: new RedisLikeCache(redis), logger }),
    subscriber: transport,
    unitOfWork: likeProjectionUnitOfWork(db),
    deadLetters: transport,
    retry: {
      maxRetries: config.RETRY_MAX,
      baseDelayMs: config.RETRY_BASE_MS,
      factor: config.RETRY_FACTOR,
      maxDelayMs: 30_000,
    },
    batch: { maxSize: config.BATCH_SIZE, flushEveryMs: config.BATCH_FLUSH_MS },
    isTransient: isTransientDatabaseError,
    logger,
  }),
];

// Inbox rows outlive any redelivery window; older ones are purged hourly.
const purge = setInterval(() => {
  purgeInbox(db, config.INBOX_RETENTION_HOURS * 3_600_000)
    .then((deleted) => deleted > 0 && logger.info("inbox purged", { deleted }))
    .catch((error) => logger.warn("inbox purge failed", { error: String(error) }));
}, 3_600_000);

const signal = await shutdownSignal();
logger.info("stopping: flushing and committing", { signal });
clearInterval(purge);
for (const consumer of consumers) await consumer.stop();
await transport.close();
redis.disconnect();
await db.close();
Deno.exit(0);
