/** HTTP route of the hot ranking: `GET /videos/hot?window=1h&limit=20`. */
import { Hono } from "hono";
import { z } from "zod";
import { type HotRanking, hotWindows } from "../../../application/interaction/hot_ranking.ts";
import { validated } from "../validation.ts";

/** What the hot route needs. */
export interface HotRoutesDeps {
  readonly ranking: HotRanking;
}

const hotQuery = z.object({
  window: z.enum(hotWindows).default("1h"),
  limit: z.string()
    .regex(/^[0-9]{1,3}$/, "must be a whole number from 1 to 100")
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(20),
});

/** The hot route: the top videos of a window, highest score first, as `{window, items: [{videoId, score}]}`. */
export function hotRoutes(deps: HotRoutesDeps): Hono {
  const app = new Hono();
  app.get("/videos/hot", async (c) => {
    const { window, limit } = validated(hotQuery, c.req.query(), "invalid hot videos query");
    return c.json({ window, items: await deps.ranking.top(window, limit) });
  });
  return app;
}
