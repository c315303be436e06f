/** Consumer effect of like-persistence-group: fold a batch of LikeEvents into the like-count projection. */
import { countDeltas } from "../../domain/interaction/like.ts";
import { type Envelope, payloadOf } from "../../outbox/envelope.ts";
import type { Logger } from "../ports.ts";
import { likeEvent, targetOf } from "./like_event.ts";
import type { LikeProjectionTx } from "./ports.ts";

/**
 * Builds the batch handler: one count upsert per target per batch. The projection lags the like rows by a
 * batch, so it never writes the cache (a late absolute count would undo newer likes); the API keeps the cache.
 */
export function projectLikeCounts(deps: { readonly logger: Logger }) {
  return async (events: readonly Envelope[], tx: LikeProjectionTx): Promise<void> => {
    const likes = events.map((event) => {
      const payload = payloadOf(event, likeEvent);
      return { target: targetOf(payload), action: payload.action };
    });
    const counts = await tx.likeCounts.apply(countDeltas(likes));
    deps.logger.debug("like counts projected", { events: events.length, targets: counts.length });
  };
}
