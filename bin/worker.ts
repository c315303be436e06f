/** `deno task worker`: the consumer groups (like-persistence-group) and the inbox clean-up. */
import { KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { Metrics } from "../adapters/metrics/prometheus.ts";
import { RedisLikeCache } from "../adapters/redis/like_cache.ts";
import { RedisLock } from "../adapters/redis/lock.ts";
import { ensureTopics, serveOps, startConsumers, startPurges, subscriptions } from "./parts.ts";
import { boot, kafkaTransport, openDatabase, openRedis, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("worker");
const db = await openDatabase(config);
const redis = openRedis(config);
const transport = kafkaTransport(config, logger);
const topics = new KafkaTopics({ brokers: config.KAFKA_BROKERS, logger });
await ensureTopics(topics, config, logger);
const metrics = new Metrics({ process: "worker" });
metrics.watchLag(topics, subscriptions(config));
const consumers = await startConsumers({
  db,
  transport,
  cache: new RedisLikeCache(redis),
  config,
  logger,
  observer: metrics.consumerObserver(),
});
const purges = startPurges({ db, lock: new RedisLock(redis), config, logger });
const ops = serveOps({
  port: config.METRICS_PORT ?? 9465,
  metrics,
  logger,
  checks: { postgres: () => db.query("select 1"), redis: () => redis.ping(), kafka: () => topics.ping() },
});

const signal = await shutdownSignal();
logger.info("stopping: flushing and committing", { signal });
purges.stop();
for (const consumer of consumers) await consumer.stop();
await ops.shutdown();
await transport.close();
redis.disconnect();
await db.close();
Deno.exit(0);
