/** `deno task api`: the HTTP API. */
import { RedisLikeCache } from "../adapters/redis/like_cache.ts";
import { apiApp } from "./parts.ts";
import { boot, openDatabase, openRedis, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("api");
const db = await openDatabase(config);
const redis = openRedis(config);
const app = apiApp({
  db,
  cache: new RedisLikeCache(redis),
  config,
  logger,
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
