/**
 * The interaction context (seeds 000 and 004): likes on videos and comments. Its one registration: migrations,
 * the `interaction-events` topic, the like routes, the `like-persistence-group` projection and the cache
 * warm-up.
 */
import { Hono } from "hono";
import { projectLikeCounts } from "../../application/interaction/project_like_counts.ts";
import { likeEvent } from "../../application/interaction/like_event.ts";
import { LikeCacheWarmer } from "../../application/interaction/warm_like_cache.ts";
import { consumerGroup, type ContextModule } from "../context_module.ts";
import { cacheRoutes } from "../http/interaction/cache_routes.ts";
import { likeRoutes } from "../http/interaction/like_routes.ts";
import { requireOperator } from "../http/operator.ts";
import { MemoryLikeCache } from "../memory/interaction/like_cache.ts";
import { PostgresLikeStore } from "../postgres/interaction/like_store.ts";
import { interactionUnitOfWork, likeProjectionUnitOfWork } from "../postgres/interaction/unit_of_work.ts";
import { RedisLikeCache } from "../redis/interaction/like_cache.ts";

const topic = "interaction-events";

/** Likes: the first bounded context, and the example the others copy. */
export const interactionModule: ContextModule = {
  name: "interaction",
  migrations: new URL("../postgres/interaction/migrations/", import.meta.url),
  topics: [{ name: topic }],
  build(platform) {
    const { db, logger } = platform;
    const cache = platform.redis ? new RedisLikeCache(platform.redis) : new MemoryLikeCache();
    const backend = platform.redis ? "Redis" : "memory";
    const queries = new PostgresLikeStore(db);
    const warmer = new LikeCacheWarmer({ queries, cache, clock: platform.clock }, platform.cacheWarmLimit);
    const operator = requireOperator(platform.operatorToken);
    return {
      routes: [{
        path: "/cache",
        app: new Hono().use(operator).route("/", cacheRoutes({ cache, warmer })),
      }, {
        path: "/",
        app: likeRoutes({
          unitOfWork: interactionUnitOfWork(db, platform.outbox),
          queries,
          cache,
          clock: platform.clock,
          logger,
          topic: platform.topic(topic),
        }),
      }],
      consumers: [consumerGroup({
        name: "like-persistence-group",
        topics: [topic],
        handlers: { [likeEvent.eventType]: projectLikeCounts({ logger }) },
        batched: true,
        inbox: true,
        unitOfWork: likeProjectionUnitOfWork(db),
      })],
      examples: [
        "curl -X POST {url}/videos/42/likes -H 'X-User-Id: 7' && curl {url}/videos/42/likes -H 'X-User-Id: 7'",
      ],
      // In the background: the process is ready at once, and GET /cache/stats shows the warm-up's progress.
      onStart: [() => {
        warmer.run().then((status) => logger.info("like cache warm-up", { ...status }));
        return Promise.resolve(
          `like cache warm-up of ${platform.cacheWarmLimit} hot targets started (${backend})`,
        );
      }],
    };
  },
};
