/** Consumer effect of like-persistence-group: fold a batch of LikeEvents into the like-count projection. */
import { countDeltas } from "../../domain/interaction/like.ts";
import { type Envelope, payloadOf } from "../../outbox/envelope.ts";
import type { AfterCommit } from "../../outbox/consumer.ts";
import type { Logger } from "../ports.ts";
import { likeEvent, targetOf } from "./like_event.ts";
import type { LikeCache, LikeProjectionTx } from "./ports.ts";

/** Builds the batch handler: one count upsert per target per batch, then the cache gets the new counts. */
export function projectLikeCounts(deps: { readonly cache: LikeCache; readonly logger: Logger }) {
  return async (events: readonly Envelope[], tx: LikeProjectionTx): Promise<AfterCommit> => {
    const likes = events.map((event) => {
      const payload = payloadOf(event, likeEvent);
      return { target: targetOf(payload), action: payload.action };
    });
    const counts = await tx.likeCounts.apply(countDeltas(likes));
    return async () => {
      await deps.cache.setCounts(counts);
      deps.logger.debug("like counts projected", { events: events.length, targets: counts.length });
    };
  };
}
