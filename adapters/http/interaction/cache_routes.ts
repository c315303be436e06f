/** Operator routes of the like cache (seed 004): `GET /cache/stats` and `POST /cache/warmup`. */
import { Hono } from "hono";
import type { LikeCacheInspection } from "../../../application/interaction/ports.ts";
import type { LikeCacheWarmer } from "../../../application/interaction/warm_like_cache.ts";

/** The cache routes; mount them behind `requireAdmin`. */
export function cacheRoutes(deps: { cache: LikeCacheInspection; warmer: LikeCacheWarmer }): Hono {
  const app = new Hono();
  // Hits, misses and hit ratio since this process started; keys and memory as the backend holds them now.
  app.get("/stats", async (c) => c.json({ ...(await deps.cache.stats()), warmUp: deps.warmer.status() }));
  // Runs a warm-up now (or joins the one running) and answers its outcome.
  app.post("/warmup", async (c) => c.json(await deps.warmer.run()));
  return app;
}
