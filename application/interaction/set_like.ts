/** Use case: like or unlike a target. The like row and its LikeEvent commit together or not at all. */
import {
  decideLike,
  LikeAction,
  type LikeActionCode,
  type LikeTarget,
} from "../../domain/interaction/like.ts";
import type { Clock, Logger, UnitOfWork } from "../ports.ts";
import { likeEnvelope } from "./like_event.ts";
import type { InteractionTx, LikeCache } from "./ports.ts";

/** Dependencies of setLike. */
export interface SetLikeDeps {
  readonly unitOfWork: UnitOfWork<InteractionTx>;
  readonly cache: LikeCache;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Topic of LikeEvents (seed: `interaction-events`). */
  readonly topic: string;
}

/** A like or unlike request of an authenticated user. */
export interface SetLikeRequest {
  readonly userId: string;
  readonly target: LikeTarget;
  readonly action: LikeActionCode;
  /** Trace headers carried into the event (request id, traceparent). */
  readonly headers?: Record<string, string>;
}

/** Outcome: the state now, and whether this request changed it (and which event it recorded). */
export interface SetLikeResult {
  readonly liked: boolean;
  readonly changed: boolean;
  readonly eventId?: string;
}

/** Likes or unlikes; a repeated like or unlike changes nothing and records no event. */
export async function setLike(deps: SetLikeDeps, request: SetLikeRequest): Promise<SetLikeResult> {
  const { userId, target, action } = request;
  const wanted = action === LikeAction.like;
  const result = await deps.unitOfWork.inTransaction(async (tx): Promise<SetLikeResult> => {
    const likedNow = await tx.likes.isLiked(userId, target);
    const decision = decideLike({ userId, target, action, at: deps.clock.now() }, likedNow);
    if (!decision.ok) return { liked: likedNow, changed: false };
    const saved = wanted
      ? await tx.likes.add(userId, target, decision.event.at)
      : await tx.likes.remove(userId, target);
    if (!saved) return { liked: wanted, changed: false }; // a concurrent request made the same change
    const envelope = likeEnvelope(decision.event, request.headers);
    await tx.outbox.append(deps.topic, [envelope]);
    return { liked: wanted, changed: true, eventId: envelope.eventId };
  });
  try {
    await deps.cache.setLiked(userId, target, result.liked, result.changed ? (wanted ? 1 : -1) : undefined);
  } catch (error) {
    // The database has the truth; a cache write lost here is repaired by the next read miss or projection.
    deps.logger.warn("like cache update failed", { userId, target, error: String(error) });
  }
  return result;
}
