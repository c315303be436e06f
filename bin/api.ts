/** `deno task api`: the HTTP API, with /health, /health/ready and /metrics on the same port. */
import { Metrics } from "../adapters/metrics/prometheus.ts";
import { PostgresOutboxSource } from "../adapters/postgres/outbox_store.ts";
import { RedisLikeCache } from "../adapters/redis/like_cache.ts";
import { apiApp } from "./parts.ts";
import { boot, openDatabase, openRedis, outboxSettings, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("api");
const db = await openDatabase(config);
const redis = openRedis(config);
const metrics = new Metrics({ process: "api" });
metrics.watchOutbox(new PostgresOutboxSource(db, outboxSettings(config)));
const app = apiApp({
  db,
  cache: new RedisLikeCache(redis),
  config,
  logger,
  metrics,
  checks: { postgres: () => db.query("select 1"), redis: () => redis.ping() },
});

const server = Deno.serve({
  port: config.PORT,
  hostname: "0.0.0.0",
  onListen: ({ port }) => logger.info("api listening", { url: `http://127.0.0.1:${port}` }),
}, app.fetch);

const signal = await shutdownSignal();
logger.info("stopping: draining requests", { signal });
await server.shutdown();
redis.disconnect();
await db.close();
Deno.exit(0);
