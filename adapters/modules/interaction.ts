/**
 * The interaction context (seeds 000 and 004): likes on videos and comments. Its one registration: migrations,
 * the `interaction-events` topic, the like routes, the `like-persistence-group` projection and the cache
 * warm-up.
 */
import { Hono } from "hono";
import { refreshHotRanking } from "../../application/interaction/hot_ranking.ts";
import { hotRoutes } from "../http/interaction/hot_routes.ts";
import { MemoryHotRanking } from "../memory/interaction/hot_ranking.ts";
import { RedisHotRanking } from "../redis/interaction/hot_ranking.ts";
import { projectLikeCounts } from "../../application/interaction/project_like_counts.ts";
import { likeEvent } from "../../application/interaction/like_event.ts";
import { LikeCacheWarmer } from "../../application/interaction/warm_like_cache.ts";
import { z } from "zod";
import { consumerGroup, type ContextModule, withSettings } from "../context_module.ts";
import { rateLimit, userRateLimiter } from "../http/rate_limit.ts";
import { boolSetting, intSetting } from "../settings.ts";
import { LikeConsistencyChecker } from "../../application/interaction/consistency.ts";
import { consistencyRoutes } from "../http/interaction/consistency_routes.ts";
import { PostgresConsistencyStore } from "../postgres/interaction/consistency_store.ts";
import { cacheRoutes } from "../http/interaction/cache_routes.ts";
import { likeRoutes } from "../http/interaction/like_routes.ts";
import { requireAdmin } from "../http/identity.ts";
import { accountDeleted, forgetDeletedUsers } from "../../application/interaction/forget_user.ts";
import { MemoryLikeCache } from "../memory/interaction/like_cache.ts";
import { PostgresLikeStore } from "../postgres/interaction/like_store.ts";
import { interactionUnitOfWork, likeProjectionUnitOfWork } from "../postgres/interaction/unit_of_work.ts";
import { RedisLikeCache } from "../redis/interaction/like_cache.ts";

const topic = "interaction-events";
/** The user center's topic, read for deleted accounts. */
const userEventsTopic = "user.events";

/** The context's own settings (environment variables), validated at start. */
const interactionSettings = z.object({
  /** Likes and unlikes one user may send per window (429 beyond). */
  RATE_LIMIT_POINTS: intSetting(30, 1),
  RATE_LIMIT_WINDOW_SECONDS: intSetting(60, 1),
  /** The consistency check (seed 004): period, database_first repair on/off, hot and recent targets. */
  CONSISTENCY_CHECK_INTERVAL_MS: intSetting(300_000, 1_000),
  CONSISTENCY_AUTO_FIX: boolSetting(true),
  CONSISTENCY_HOT_TARGETS: intSetting(100, 0, 100_000),
  CONSISTENCY_RECENT_WINDOW_MS: intSetting(600_000, 1_000),
  CONSISTENCY_RECENT_LIMIT: intSetting(1_000, 0, 100_000),
});

/** Likes: the first bounded context, and the example the others copy. */
export const interactionModule: ContextModule = {
  name: "interaction",
  migrations: new URL("../postgres/interaction/migrations/", import.meta.url),
  topics: [{ name: topic }],
  ...withSettings(interactionSettings, (platform, settings) => {
    const { db, logger } = platform;
    const writeLimit = rateLimit({
      limiter: userRateLimiter({
        redis: platform.redis,
        points: settings.RATE_LIMIT_POINTS,
        durationSeconds: settings.RATE_LIMIT_WINDOW_SECONDS,
        keyPrefix: "rate:interaction:likes",
      }),
      logger,
    });
    const cache = platform.redis ? new RedisLikeCache(platform.redis) : new MemoryLikeCache();
    const backend = platform.redis ? "Redis" : "memory";
    const queries = new PostgresLikeStore(db);
    const hotRanking = platform.redis
      ? new RedisHotRanking(platform.redis, { clock: platform.clock })
      : new MemoryHotRanking({ clock: platform.clock });
    const warmer = new LikeCacheWarmer({ queries, cache, clock: platform.clock }, platform.cacheWarmLimit);
    const likeDeps = {
      unitOfWork: interactionUnitOfWork(db, platform.outbox),
      queries,
      cache,
      clock: platform.clock,
      logger,
      topic: platform.topic(topic),
    };
    const consistencyStore = new PostgresConsistencyStore(db);
    const consistency = new LikeConsistencyChecker(
      { cache, queries, changed: consistencyStore, log: consistencyStore, clock: platform.clock, logger },
      {
        autoFix: settings.CONSISTENCY_AUTO_FIX,
        hotTargets: settings.CONSISTENCY_HOT_TARGETS,
        // Never shorter than the period: a target changed between two rounds must be in the next one.
        recentWindowMs: Math.max(
          settings.CONSISTENCY_RECENT_WINDOW_MS,
          settings.CONSISTENCY_CHECK_INTERVAL_MS,
        ),
        recentLimit: settings.CONSISTENCY_RECENT_LIMIT,
      },
    );
    return {
      routes: [{
        path: "/cache",
        app: new Hono().use(requireAdmin).route("/", cacheRoutes({ cache, warmer })),
      }, {
        path: "/consistency",
        app: new Hono().use(requireAdmin).route("/", consistencyRoutes({ checker: consistency })),
      }, {
        path: "/",
        app: hotRoutes({ ranking: hotRanking }),
      }, {
        path: "/",
        app: likeRoutes(likeDeps, { writeLimit }),
      }],
      consumers: [
        consumerGroup({
          name: "like-persistence-group",
          topics: [topic],
          handlers: { [likeEvent.eventType]: projectLikeCounts({ logger }) },
          batched: true,
          inbox: true,
          unitOfWork: likeProjectionUnitOfWork(db),
        }),
        consumerGroup({
          // Redis effects the database inbox cannot make atomic: the ranking dedupes event ids itself.
          name: "cache-refresh",
          topics: [topic],
          handlers: { [likeEvent.eventType]: refreshHotRanking({ ranking: hotRanking, logger }) },
          batched: true,
          inbox: false,
        }),
        consumerGroup({
          // A deleted account's likes are unliked one by one (idempotent: a redelivery finds none left).
          name: "interaction-account-cleanup",
          topics: [userEventsTopic],
          handlers: { [accountDeleted.eventType]: forgetDeletedUsers(likeDeps) },
          batched: false,
          inbox: false,
        }),
      ],
      // One worker at a time runs a round (the platform's lock job:interaction.consistency-check).
      jobs: [{
        name: "consistency-check",
        everyMs: settings.CONSISTENCY_CHECK_INTERVAL_MS,
        run: async () => {
          const round = await consistency.runRound({ trigger: "scheduled" });
          return round.found > 0 ? { ...round } : undefined;
        },
      }],
      examples: [
        `curl -X POST {url}/videos/42/likes -H "Authorization: Bearer $TOKEN" && curl {url}/videos/42/likes -H "Authorization: Bearer $TOKEN"`,
      ],
      // In the background: the process is ready at once, and GET /cache/stats shows the warm-up's progress.
      onStart: [() => {
        warmer.run().then((status) => logger.info("like cache warm-up", { ...status }));
        return Promise.resolve(
          `like cache warm-up started: up to ${platform.cacheWarmLimit} hot targets into the ${backend} cache`,
        );
      }],
    };
  }),
};
