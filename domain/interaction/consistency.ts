/**
 * Consistency of the like cache with the like rows (seed 004): the pure comparison of one target's cached view
 * with the database's, and the `database_first` repair plan (the like rows are the source of truth). No I/O.
 */

/** What a check can find wrong in a target's cache: the one list the SQL check and the report derive from. */
export const findingKinds = ["count_mismatch", "state_missing", "state_extra"] as const;

/** A kind of inconsistency. */
export type FindingKind = typeof findingKinds[number];

/** What was done about a finding: the cache repaired, only recorded, or left alone because it changed meanwhile. */
export const findingActions = ["fixed", "logged", "skipped_changed"] as const;

/** An action taken on a finding. */
export type FindingAction = typeof findingActions[number];

/** What the cache holds for one target. */
export interface CachedLikes {
  /** The cached count; undefined is a miss, not an inconsistency. */
  readonly count?: number;
  /** The cached states by user id (true: liked); a user absent from the map is a miss. */
  readonly states: ReadonlyMap<string, boolean>;
}

/** What the like rows say about the same target. */
export interface StoredLikes {
  /** The number of like rows; undefined when it was not read (there was no cached count to compare). */
  readonly count?: number;
  /** Which of the cached users have a like row. */
  readonly likedBy: ReadonlySet<string>;
}

/** One inconsistency: what the cache held and what the database holds. */
export type Finding =
  | {
    /** The cached count differs from the number of like rows. */
    readonly kind: "count_mismatch";
    readonly cacheValue: number;
    readonly databaseValue: number;
  }
  | {
    /** `state_missing`: a like row, but the cache says not liked; `state_extra`: cached as liked, no like row. */
    readonly kind: "state_missing" | "state_extra";
    readonly userId: string;
    readonly cacheValue: boolean;
    readonly databaseValue: boolean;
  };

/** What a database-first repair writes into the cache: the true count and the true states, nothing else. */
export interface RepairPlan {
  /** The count to write; undefined when the cached one is right or missing. */
  readonly count?: number;
  /** The states to write, by user id. */
  readonly states: ReadonlyMap<string, boolean>;
}

/** The outcome of a comparison. */
export interface Comparison {
  readonly findings: readonly Finding[];
  readonly repair: RepairPlan;
}

/**
 * Compares a target's cached view with the like rows. Only what the cache holds is compared: a missing count or a
 * user without a cached state is a miss, which the read path fills. The plan writes the database's value over
 * each wrong one.
 */
export function compareLikes(cached: CachedLikes, stored: StoredLikes): Comparison {
  const findings: Finding[] = [];
  let count: number | undefined;
  const states = new Map<string, boolean>();
  if (cached.count !== undefined && stored.count !== undefined && cached.count !== stored.count) {
    findings.push({ kind: "count_mismatch", cacheValue: cached.count, databaseValue: stored.count });
    count = stored.count;
  }
  for (const [userId, cachedLiked] of cached.states) {
    const liked = stored.likedBy.has(userId);
    if (cachedLiked === liked) continue;
    findings.push({
      kind: liked ? "state_missing" : "state_extra",
      userId,
      cacheValue: cachedLiked,
      databaseValue: liked,
    });
    states.set(userId, liked);
  }
  return { findings, repair: count === undefined ? { states } : { count, states } };
}
