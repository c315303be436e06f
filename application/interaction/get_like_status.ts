/** Query: a target's like count and whether the current user likes it; cache first, database on a miss. */
import { type LikeTarget, targetKey } from "../../domain/interaction/like.ts";
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

/**
 * Reads from the cache; on a miss or a cache failure reads the source of truth (the like rows, not the lagging
 * projection) and fills the cache, so a read after a like or unlike always includes it.
 */
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
  const countNow = async () => {
    const read = (targets: readonly LikeTarget[]) => deps.queries.countLikes(targets);
    try {
      return (await deps.cache.fillCounts([target], read)).get(targetKey(target)) ?? 0;
    } catch (error) {
      deps.logger.warn("like cache fill failed; reading the database", { error: String(error) });
      return (await read([target])).get(targetKey(target)) ?? 0;
    }
  };

  const count = (await cached(() => deps.cache.count(target))) ?? await countNow();
  if (userId === undefined) return { count, liked: false };
  let liked = await cached(() => deps.cache.likedBy(userId, target));
  if (liked === undefined) {
    const fromDatabase = await deps.queries.isLiked(userId, target);
    liked = fromDatabase;
    await deps.cache.fillLiked(userId, target, fromDatabase).catch((error) =>
      deps.logger.warn("like cache fill failed", { error: String(error) })
    );
  }
  return { count, liked };
}
