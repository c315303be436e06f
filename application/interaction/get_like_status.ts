/** Query: a target's like count and whether the current user likes it; cache first, database on a miss. */
import type { LikeTarget } from "../../domain/interaction/like.ts";
import type { Logger } from "../ports.ts";
import type { LikeCache, LikeQueries } from "./ports.ts";

/** Dependencies of getLikeStatus. */
export interface GetLikeStatusDeps {
  readonly cache: LikeCache;
  readonly queries: LikeQueries;
  readonly logger: Logger;
}

/** The answer of `GET .../likes`. */
export interface LikeStatus {
  readonly count: number;
  readonly liked: boolean;
}

/** Reads from the cache; on a miss or a cache failure reads the database and fills the cache. */
export async function getLikeStatus(
  deps: GetLikeStatusDeps,
  request: { readonly target: LikeTarget; readonly userId?: string },
): Promise<LikeStatus> {
  const { target, userId } = request;
  const cached = async <T>(read: () => Promise<T | undefined>) => {
    try {
      return await read();
    } catch (error) {
      deps.logger.warn("like cache read failed; reading the database", { error: String(error) });
      return undefined;
    }
  };
  const fill = (write: () => Promise<void>) =>
    write().catch((error) => deps.logger.warn("like cache fill failed", { error: String(error) }));

  let count = await cached(() => deps.cache.count(target));
  if (count === undefined) {
    count = await deps.queries.count(target);
    await fill(() => deps.cache.setCounts([{ target, count: count! }]));
  }
  if (userId === undefined) return { count, liked: false };
  let liked = await cached(() => deps.cache.likedBy(userId, target));
  if (liked === undefined) {
    liked = await deps.queries.isLiked(userId, target);
    await fill(() => deps.cache.setLiked(userId, target, liked!));
  }
  return { count, liked };
}
