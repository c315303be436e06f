/** `deno task api`: the HTTP API. */
import { createApp } from "../adapters/http/app.ts";
import { PostgresLikeStore } from "../adapters/postgres/like_store.ts";
import { interactionUnitOfWork } from "../adapters/postgres/unit_of_work.ts";
import { RedisLikeCache } from "../adapters/redis/like_cache.ts";
import { systemClock } from "../application/ports.ts";
import { names } from "./config.ts";
import { boot, openDatabase, openRedis, outboxSettings, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("api");
const db = await openDatabase(config);
const redis = openRedis(config);
const cache = new RedisLikeCache(redis);

const app = createApp({
  logger,
  likes: {
    unitOfWork: interactionUnitOfWork(db, outboxSettings(config)),
    queries: new PostgresLikeStore(db),
    cache,
    clock: systemClock,
    logger,
    topic: names(config).interactionTopic,
  },
  checks: {
    postgres: () => db.query("select 1"),
    redis: () => redis.ping(),
  },
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
