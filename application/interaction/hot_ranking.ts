/**
 * The hot ranking of videos: the `cache-refresh` group folds LikeEvents into per-minute scores (+1 a like, −1 an
 * unlike) and `GET /videos/hot` reads the top videos of a window. Its effect lives in a cache, not in the
 * database, so it cannot share a transaction with the inbox: a ranking dedupes event ids itself, per minute.
 */
import { LikeAction } from "../../domain/interaction/like.ts";
import type { BatchHandler } from "../../outbox/consumer.ts";
import { type Envelope, payloadOf } from "../../outbox/envelope.ts";
import type { Logger } from "../ports.ts";
import { likeEvent, targetOf } from "./like_event.ts";

/** The windows the ranking serves: the one list the route's validator and the adapters derive from. */
export const hotWindows = ["5m", "1h", "24h"] as const;

/** A window the ranking serves. */
export type HotWindow = typeof hotWindows[number];

// Typed by the list, so a window added there without a length does not compile.
const windowLength: Readonly<Record<HotWindow, number>> = { "5m": 5, "1h": 60, "24h": 1440 };
const longestWindow = Math.max(...hotWindows.map((window) => windowLength[window]));
// Buckets outlive the longest window by this much, so workers whose clocks differ a little agree on them.
const clockMarginMinutes = 10;
const minuteMs = 60_000;

/** One like or unlike of a video, as a ranking records it. */
export interface VideoLikeChange {
  /** The event's id: a ranking applies each id once. */
  readonly eventId: string;
  readonly videoId: string;
  /** +1 for a like, −1 for an unlike. */
  readonly delta: 1 | -1;
  /** When it happened (the envelope's `occurredAt`): it picks the minute bucket. */
  readonly at: Date;
}

/** A video of the ranking and its score: likes minus unlikes within the window. */
export interface HotVideo {
  readonly videoId: string;
  readonly score: number;
}

/** The hot ranking of videos over recent minutes; idempotent without the inbox. */
export interface HotRanking {
  /**
   * Adds each change to the bucket of its minute, once per event id, atomically for the batch (a batch
   * delivered twice counts once); changes older than the longest window are dropped. Returns how many took
   * effect.
   */
  record(changes: readonly VideoLikeChange[]): Promise<number>;
  /**
   * The `limit` (≥ 1) highest positive scores of the window, highest first; equal scores order by video id
   * descending, compared as bytes (as Redis orders them).
   */
  top(window: HotWindow, limit: number): Promise<HotVideo[]>;
}

/** The minute (since the epoch) of a time: the bucket an event counts in. */
export function minuteOf(at: Date): number {
  return Math.floor(at.getTime() / minuteMs);
}

/** The minutes a window covers at `now`, both ends included: the current minute and the ones before it. */
export function windowMinutes(
  window: HotWindow,
  now: Date,
): { readonly first: number; readonly last: number } {
  const last = minuteOf(now);
  return { first: last - windowLength[window] + 1, last };
}

/** The oldest minute any window still covers at `now`: changes of earlier minutes can no longer count. */
export function oldestRankedMinute(now: Date): number {
  return minuteOf(now) - longestWindow + 1;
}

/** When a bucket starting at `minute` is read by no window any more, plus a margin for clock skew (epoch ms). */
export function bucketExpiresAt(minute: number): number {
  return (minute + longestWindow + clockMarginMinutes) * minuteMs;
}

/** The video likes and unlikes of a batch of LikeEvents; comments do not rank. */
export function videoLikeChanges(events: readonly Envelope[]): VideoLikeChange[] {
  return events.flatMap((event) => {
    const payload = payloadOf(event, likeEvent);
    const target = targetOf(payload);
    if (target.type !== "video") return [];
    return [{
      eventId: event.eventId,
      videoId: target.id,
      delta: payload.action === LikeAction.like ? 1 : -1,
      at: new Date(event.occurredAt),
    }];
  });
}

/**
 * Consumer effect of `cache-refresh`: records a batch of LikeEvents in the ranking. It has no transaction
 * (the group has no unit of work); the ranking's own dedupe makes a redelivery harmless.
 */
export function refreshHotRanking(
  deps: { readonly ranking: HotRanking; readonly logger: Logger },
): BatchHandler<undefined> {
  return async (events) => {
    // Every payload is checked before anything is recorded: a poison event fails the batch with no effect.
    const changes = videoLikeChanges(events);
    const applied = changes.length > 0 ? await deps.ranking.record(changes) : 0;
    deps.logger.debug("hot ranking refreshed", { events: events.length, videos: changes.length, applied });
  };
}
