/** `deno task worker`: the consumer groups (like-persistence-group) and the inbox clean-up. */
import { KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { RedisLikeCache } from "../adapters/redis/like_cache.ts";
import { RedisLock } from "../adapters/redis/lock.ts";
import { ensureTopics, startConsumers, startPurges } from "./parts.ts";
import { boot, kafkaTransport, openDatabase, openRedis, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("worker");
const db = await openDatabase(config);
const redis = openRedis(config);
const transport = kafkaTransport(config, logger);
await ensureTopics(new KafkaTopics({ brokers: config.KAFKA_BROKERS, logger }), config, logger);
const consumers = await startConsumers({ db, transport, cache: new RedisLikeCache(redis), config, logger });
const purges = startPurges({ db, lock: new RedisLock(redis), config, logger });

const signal = await shutdownSignal();
logger.info("stopping: flushing and committing", { signal });
purges.stop();
for (const consumer of consumers) await consumer.stop();
await transport.close();
redis.disconnect();
await db.close();
Deno.exit(0);
