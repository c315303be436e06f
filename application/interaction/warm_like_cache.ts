/** Use case: fill the like cache with the hottest targets' counts at start, so first reads are fast. */
import type { LikeCache, LikeQueries } from "./ports.ts";

/** Copies the `limit` most liked targets' counts into the cache; returns how many. */
export async function warmLikeCache(
  deps: { readonly queries: LikeQueries; readonly cache: LikeCache },
  limit = 1000,
): Promise<number> {
  const counts = await deps.queries.topCounts(limit);
  await deps.cache.setCounts(counts);
  return counts.length;
}
