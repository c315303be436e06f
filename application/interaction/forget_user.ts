/**
 * When an account is deleted (`user.deleted` from the user center), its likes go: each is unliked through
 * the ordinary command, so every removal commits its LikeEvent and the counts, the cache and the rankings
 * follow as for any unlike. Idempotent: a redelivered event finds nothing left to remove.
 */
import { LikeAction } from "../../domain/interaction/like.ts";
import { type Envelope, payloadOf } from "../../outbox/envelope.ts";
import { z } from "zod";
import type { LikeQueries } from "./ports.ts";
import { setLike, type SetLikeDeps } from "./set_like.ts";

/** The user center's `user.deleted` event as this context reads it (published language: id and time). */
export const accountDeleted = {
  eventType: "user.deleted",
  version: 1,
  payload: z.object({ userId: z.string().regex(/^[1-9][0-9]{0,18}$/), at: z.string() }),
};

/** Removes the likes of deleted accounts, `batch` at a time. */
export function forgetDeletedUsers(deps: SetLikeDeps & { readonly queries: LikeQueries }, batch = 500) {
  return async (events: readonly Envelope[]): Promise<void> => {
    for (const event of events) {
      const { userId } = payloadOf(event, accountDeleted);
      // First: a like committing after this point is refused, so none outlives the clean-up below.
      await deps.queries.forget(userId);
      let removed = 0;
      for (;;) {
        const targets = await deps.queries.likedBy(userId, batch);
        for (const target of targets) {
          await setLike(deps, { userId, target, action: LikeAction.unlike, headers: event.headers });
        }
        removed += targets.length;
        if (targets.length < batch) break;
      }
      if (removed > 0) deps.logger.info("likes of a deleted account removed", { userId, likes: removed });
    }
  };
}
