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
  /** The true counts from the like rows, keyed by `targetKey` (0 when none). */
  countLikes(targets: readonly LikeTarget[]): Promise<Map<string, number>>;
  /** Which of `userIds` like the target now. */
  likedAmong(target: LikeTarget, userIds: readonly string[]): Promise<Set<string>>;
  /** The `limit` most liked targets with their counts (for the cache warm-up). */
  topCounts(limit: number): Promise<TargetCount[]>;
  /** Up to `limit` targets `userId` likes now. */
  likedBy(userId: string, limit: number): Promise<LikeTarget[]>;
  /** Records that `userId`'s account is gone: no like of theirs is added from now on. */
  forget(userId: string): Promise<void>;
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

/**
 * Millisecond reads of like state and counts; a cache, never the only copy. Updates are versioned so that a
 * late write cannot overwrite a newer value: each target has a change version, a change bumps it before its
 * transaction (`beginChange`) and after its commit (`commitChange`), and a fill from the database lands only if
 * no change began since it read the version. A count a fill may already include is dropped, not adjusted.
 */
export interface LikeCache {
  /** The user's state, or undefined on a miss. */
  likedBy(userId: string, target: LikeTarget): Promise<boolean | undefined>;
  /** The count, or undefined on a miss. */
  count(target: LikeTarget): Promise<number | undefined>;
  /** Marks a change of `target` about to be written; returns its version (fills racing with it are refused). */
  beginChange(target: LikeTarget): Promise<number>;
  /**
   * After the change committed: stores the user's state and adjusts a cached count by `delta`, or drops the
   * count when a fill may already include the change. `version` is `beginChange`'s (undefined if it failed).
   */
  commitChange(change: LikeChange): Promise<void>;
  /** Fills missing counts: reads the versions, calls `read`, stores each count whose version did not move. */
  fillCounts(targets: readonly LikeTarget[], read: CountReader): Promise<Map<string, number>>;
  /** Fills the user's state unless a change already stored one. */
  fillLiked(userId: string, target: LikeTarget, liked: boolean): Promise<void>;
}

/** Reads the true counts of targets, keyed by `targetKey`. */
export type CountReader = (targets: readonly LikeTarget[]) => Promise<Map<string, number>>;

/** A committed like or unlike, as the cache records it. */
export interface LikeChange {
  readonly userId: string;
  readonly target: LikeTarget;
  readonly liked: boolean;
  /** +1 for a like, -1 for an unlike. */
  readonly delta: 1 | -1;
  readonly version?: number;
}

/** What the cache holds for one target, for the consistency check. */
export interface CachedTarget {
  /** The target's change version when it was read. */
  readonly version: number;
  readonly count?: number;
  /** The cached states by user id. */
  readonly states: ReadonlyMap<string, boolean>;
}

/** The consistency check's view of the cache: read one target whole, repair it if nothing changed meanwhile. */
export interface LikeCacheInspection {
  inspect(target: LikeTarget): Promise<CachedTarget>;
  /**
   * Writes the database's values (a count, states; null removes a state) unless the target's version moved
   * past `version`; returns whether it did.
   */
  repair(
    target: LikeTarget,
    version: number,
    values: { readonly count?: number; readonly states?: ReadonlyMap<string, boolean | null> },
  ): Promise<boolean>;
  /** Hits, misses and what the cache holds. */
  stats(): Promise<CacheStats>;
}

/** Cache statistics (`GET /cache/stats`). */
export interface CacheStats {
  readonly backend: "redis" | "memory";
  readonly hits: number;
  readonly misses: number;
  readonly hitRatio: number;
  /** Cached keys by kind (targets with a count, targets with user states). */
  readonly keys: Readonly<Record<string, number>>;
  /** Memory used, in bytes, as the backend reports it (Redis INFO used_memory), when known. */
  readonly memoryBytes?: number;
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
