/** Ports of the interaction context. */
import type { CountDelta, LikeTarget } from "../../domain/interaction/like.ts";
import type { InboxStore, OutboxWriter } from "../../outbox/ports.ts";

/** The like rows (source of truth), inside a transaction. */
export interface LikeRepository {
  /** Whether the user likes the target now. */
  isLiked(userId: string, target: LikeTarget): Promise<boolean>;
  /** Adds the like; false when it already existed (a concurrent writer won). */
  add(userId: string, target: LikeTarget, at: Date): Promise<boolean>;
  /** Removes the like; false when there was none. */
  remove(userId: string, target: LikeTarget): Promise<boolean>;
}

/** Reads outside a transaction, for the read path. */
export interface LikeQueries {
  isLiked(userId: string, target: LikeTarget): Promise<boolean>;
  /** The count from the projection kept by the consumer (0 when none). */
  count(target: LikeTarget): Promise<number>;
  /** The `limit` most liked targets with their counts (for the cache warm-up). */
  topCounts(limit: number): Promise<TargetCount[]>;
}

/** A target's count after a change. */
export interface TargetCount {
  readonly target: LikeTarget;
  readonly count: number;
}

/** The like-count projection, inside the consumer's transaction. */
export interface LikeCountStore {
  /** Adds the deltas and returns the new counts. */
  apply(deltas: readonly CountDelta[]): Promise<TargetCount[]>;
}

/** Millisecond reads of like state and counts; a cache, never the only copy. */
export interface LikeCache {
  /** The user's like state, or undefined on a miss. */
  likedBy(userId: string, target: LikeTarget): Promise<boolean | undefined>;
  /** The count, or undefined on a miss. */
  count(target: LikeTarget): Promise<number | undefined>;
  /** Stores the user's state; when `countDelta` is given and the count is cached, adjusts it. */
  setLiked(userId: string, target: LikeTarget, liked: boolean, countDelta?: number): Promise<void>;
  /** Stores authoritative counts. */
  setCounts(counts: readonly TargetCount[]): Promise<void>;
}

/** What a write transaction of the interaction context holds. */
export interface InteractionTx {
  readonly likes: LikeRepository;
  readonly outbox: OutboxWriter;
}

/** What the like-persistence consumer's transaction holds. */
export interface LikeProjectionTx {
  readonly likeCounts: LikeCountStore;
  readonly inbox: InboxStore;
}
