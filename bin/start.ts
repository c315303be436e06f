/**
 * `deno task start`: the whole platform in one process (API, relay, consumers).
 * With no DATABASE_URL, KAFKA_BROKERS or REDIS_URL it needs nothing but Deno: PGlite in DATA_DIR, the
 * in-process transport, an in-memory cache. Each variable set swaps in the real service on its own.
 */
import type { Redis } from "ioredis";
import { InProcessTransport } from "../adapters/inprocess/transport.ts";
import { KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { type LagReader, Metrics } from "../adapters/metrics/prometheus.ts";
import { MemoryLikeCache } from "../adapters/memory/like_cache.ts";
import { MemoryLock } from "../adapters/memory/lock.ts";
import { DataDirLockedError, lockDataDir } from "../adapters/pglite/data_dir_lock.ts";
import { openPglite } from "../adapters/pglite/pglite.ts";
import { PostgresLikeStore } from "../adapters/postgres/like_store.ts";
import { migrate } from "../adapters/postgres/migrate.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { RedisLikeCache } from "../adapters/redis/like_cache.ts";
import { RedisLock } from "../adapters/redis/lock.ts";
import { warmLikeCache } from "../application/interaction/warm_like_cache.ts";
import type { LikeCache } from "../application/interaction/ports.ts";
import type { DistributedLock } from "../application/ports.ts";
import type { Publisher, Subscriber, TopicAdmin } from "../outbox/ports.ts";
import { apiApp, ensureTopics, relayProcess, startConsumers, startPurges, subscriptions } from "./parts.ts";
import { boot, kafkaTransport, openDatabase, openRedis, shutdownSignal } from "./wiring.ts";

const started = performance.now();
const { config, logger } = boot("start", { quiet: true });
const real = {
  database: Boolean(Deno.env.get("DATABASE_URL")),
  kafka: Boolean(Deno.env.get("KAFKA_BROKERS")),
  redis: Boolean(Deno.env.get("REDIS_URL")),
};
const say = (line: string) => console.log(line);
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

// Database: PGlite in DATA_DIR (locked: PGlite itself does not lock, and two writers lose commits) or PostgreSQL.
let db: SqlDatabase;
let releaseDataDir = () => {};
let step = performance.now();
if (real.database) {
  db = await openDatabase(config);
  say(
    `✓ database   PostgreSQL ${new URL(config.DATABASE_URL).host}, schema ${config.DATABASE_SCHEMA} (${
      seconds(step)
    })`,
  );
} else {
  try {
    releaseDataDir = (await lockDataDir(config.DATA_DIR)).release;
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      console.error(`✗ ${error.message}`);
      Deno.exit(1);
    }
    throw error;
  }
  const pglite = await openPglite(`${config.DATA_DIR}/pg`);
  db = pglite;
  say(
    `✓ database   PGlite ${pglite.created ? "created" : "opened"} in ${config.DATA_DIR}/pg (${
      seconds(step)
    })`,
  );
}
step = performance.now();
const applied = await migrate(db);
say(`✓ migrations ${applied.length ? `${applied.length} applied` : "up to date"} (${seconds(step)})`);

// Transport: Kafka, or the in-process log in the same database.
step = performance.now();
let transport: Publisher & Subscriber & { close(): Promise<void> };
let admin: TopicAdmin & LagReader;
let inProcess: InProcessTransport | undefined;
if (real.kafka) {
  transport = kafkaTransport(config, logger);
  admin = new KafkaTopics({ brokers: config.KAFKA_BROKERS, logger });
} else {
  inProcess = new InProcessTransport(db, { logger });
  transport = admin = inProcess;
}
const metrics = new Metrics({ process: "start" });
metrics.watchLag(admin, subscriptions(config));
await ensureTopics(admin, config, logger);
say(
  `✓ transport  ${
    real.kafka ? `Kafka ${config.KAFKA_BROKERS.join(",")}` : "in-process (log in the database)"
  } (${seconds(step)})`,
);

// Cache and lock: Redis or memory; warmed with the hottest counts.
step = performance.now();
let redis: Redis | undefined;
let cache: LikeCache;
let lock: DistributedLock;
if (real.redis) {
  redis = openRedis(config);
  cache = new RedisLikeCache(redis);
  lock = new RedisLock(redis);
} else {
  cache = new MemoryLikeCache();
  lock = new MemoryLock();
}
const warmed = await warmLikeCache({ queries: new PostgresLikeStore(db), cache }, config.CACHE_WARM_LIMIT);
say(`✓ cache      ${real.redis ? "Redis" : "in memory"}, ${warmed} counts warmed (${seconds(step)})`);

step = performance.now();
const { relay, source } = await relayProcess({
  db,
  publisher: transport,
  config,
  logger,
  exclusive: !real.database,
});
const consumers = await startConsumers({ db, transport, cache, config, logger });
const purges = startPurges({
  db,
  lock,
  config,
  logger,
  extra: inProcess && (() => inProcess.purge(7 * 86_400_000)),
});
say(`✓ relay and ${consumers.length} consumer group(s) running (${seconds(step)})`);

const app = apiApp({
  db,
  cache,
  config,
  logger,
  metrics,
  checks: {
    database: () => db.query("select 1"),
    ...(redis ? { redis: () => redis.ping() } : {}),
    ...(real.kafka ? { kafka: () => new KafkaTopics({ brokers: config.KAFKA_BROKERS }).ping() } : {}),
  },
});
const server = Deno.serve({ port: config.PORT, hostname: "0.0.0.0", onListen: () => {} }, app.fetch);
const url = `http://127.0.0.1:${server.addr.port}`;
say(`✓ ready in ${Math.round(performance.now() - started)} ms: ${url}`);
say(
  `  try: curl -X POST ${url}/videos/42/likes -H 'X-User-Id: 7' && curl ${url}/videos/42/likes -H 'X-User-Id: 7'`,
);

const signal = await shutdownSignal();
say(`stopping (${signal}): finishing requests, the relay batch and the consumer buffers`);
await server.shutdown();
purges.stop();
await relay.stop();
await source.close();
for (const consumer of consumers) await consumer.stop();
await transport.close();
redis?.disconnect();
await db.close();
releaseDataDir();
say("stopped");
Deno.exit(0);
