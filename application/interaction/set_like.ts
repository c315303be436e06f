/** Use case: like or unlike a target. The like row and its LikeEvent commit together or not at all. */
import { type LikeActionCode, likeDecider, type LikeTarget } from "../../domain/interaction/like.ts";
import { handleCommand } from "../command_handler.ts";
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

/**
 * Likes or unlikes; a repeated like or unlike changes nothing and records no event. The cache holds the change
 * before this returns, so the user's next read includes it.
 */
export async function setLike(deps: SetLikeDeps, request: SetLikeRequest): Promise<SetLikeResult> {
  const { userId, target, action } = request;
  const version = await deps.cache.beginChange(target).catch((error) => {
    deps.logger.warn("like cache unavailable before a change", { target, error: String(error) });
    return undefined;
  });
  const outcome = await handleCommand(deps.unitOfWork, {
    decider: likeDecider,
    load: async (tx) => ({ liked: await tx.likes.isLiked(userId, target) }),
    // The like row's primary key serializes two requests of one user on one target: the loser saves nothing.
    save: (tx, state, command) =>
      state.liked ? tx.likes.add(userId, target, command.at) : tx.likes.remove(userId, target),
    topic: deps.topic,
    toEnvelopes: (events) => events.map((event) => likeEnvelope(event, request.headers)),
  }, { userId, target, action, at: deps.clock.now() });
  const [envelope] = outcome.ok ? outcome.envelopes : [];
  const liked = outcome.state.liked;
  try {
    if (envelope) await deps.cache.commitChange({ userId, target, liked, delta: liked ? 1 : -1, version });
    else await deps.cache.fillLiked(userId, target, liked);
  } catch (error) {
    // The database has the truth; a cache write lost here is repaired by the consistency check (and the TTL).
    deps.logger.warn("like cache update failed", { userId, target, error: String(error) });
  }
  return envelope ? { liked, changed: true, eventId: envelope.eventId } : { liked, changed: false };
}
