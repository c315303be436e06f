/**
 * The consistency check of the like cache (seed 004, DataConsistencyService): rounds over the hot and the
 * recently changed targets compare what the cache holds (count, user states) with the like rows, the source of
 * truth, and repair the cache from the database (`database_first`) unless auto-fix is off. Every inconsistency is
 * recorded with what was done about it. A repair lands only if the target did not change since it was inspected
 * (the cache's version protocol); one that changed is recorded as `skipped_changed` and left to the next round.
 */
import {
  compareLikes,
  type Finding,
  type FindingAction,
  type FindingKind,
} from "../../domain/interaction/consistency.ts";
import { type LikeTarget, targetKey } from "../../domain/interaction/like.ts";
import { parseId } from "../../domain/shared/id.ts";
import type { Clock, Logger } from "../ports.ts";
import type {
  ChangedTargets,
  ConsistencyLog,
  ConsistencyTotals,
  RecordedFinding,
  RoundTrigger,
} from "./consistency_ports.ts";
import type { CachedTarget, LikeCacheInspection, LikeQueries } from "./ports.ts";

/** How the check runs. */
export interface ConsistencySettings {
  /** Repair what a check finds from the database; off, findings are only recorded (`logged`). */
  readonly autoFix: boolean;
  /** How many of the most liked targets (the projection's top) each round checks. */
  readonly hotTargets: number;
  /** Targets whose count changed within this window are checked too. */
  readonly recentWindowMs: number;
  /** At most this many recently changed targets per round. */
  readonly recentLimit: number;
}

/** The defaults: auto-fix on, the top 100, and what changed in the last 10 minutes (two 5-minute rounds). */
export const defaultConsistencySettings: ConsistencySettings = {
  autoFix: true,
  hotTargets: 100,
  recentWindowMs: 600_000,
  recentLimit: 1000,
};

/** What the check needs. */
export interface ConsistencyDeps {
  readonly cache: LikeCacheInspection;
  readonly queries: Pick<LikeQueries, "countLikes" | "likedAmong" | "topCounts">;
  readonly changed: ChangedTargets;
  readonly log: ConsistencyLog;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What one round did (a type, so a periodic job can return it as its log summary). */
export type RoundSummary = {
  readonly roundId: string;
  readonly trigger: RoundTrigger;
  /** Targets picked (hot and recently changed). */
  readonly targets: number;
  /** Of those, targets compared: the ones the cache held something for (an empty cache has nothing to compare). */
  readonly items: number;
  readonly found: number;
  readonly fixed: number;
  readonly logged: number;
  readonly skippedChanged: number;
};

/** A finding and what was done about it. */
export type CheckedFinding = Finding & { readonly action: FindingAction };

/** A target's cache as an operator reads it: the count (null on a miss) and the states of the users concerned. */
export interface CacheSnapshot {
  readonly count: number | null;
  readonly states: Readonly<Record<string, boolean>>;
}

/** The answer of a check of one target: its findings, and the cache before and after. */
export interface TargetCheck {
  readonly roundId: string;
  readonly target: LikeTarget;
  readonly findings: readonly CheckedFinding[];
  /** The cache when inspected; states of the users with a finding only (a hot target caches many). */
  readonly before: CacheSnapshot;
  /** The cache after the check, for the same users. */
  readonly after: CacheSnapshot;
}

/** What the check did over the last `hours`. */
export type ConsistencyReport = ConsistencyTotals & {
  readonly hours: number;
  readonly since: Date;
  readonly autoFix: boolean;
};

// likedAmong's user list is one query parameter: keep it bounded for targets with many cached users.
const usersPerQuery = 1000;
const latestFindings = 20;

/** The consistency check of the like cache: rounds, one-target checks and the report. */
export class LikeConsistencyChecker {
  readonly #deps: ConsistencyDeps;
  readonly #settings: ConsistencySettings;

  constructor(deps: ConsistencyDeps, settings: Partial<ConsistencySettings> = {}) {
    this.#deps = deps;
    this.#settings = { ...defaultConsistencySettings, ...settings };
  }

  /** Checks the hot and the recently changed targets once, and records the round and its findings. */
  async runRound(request: { readonly trigger: RoundTrigger }): Promise<RoundSummary> {
    const { log, clock } = this.#deps;
    const roundId = await log.startRound(request.trigger, clock.now());
    const actions: Record<FindingAction, number> = { fixed: 0, logged: 0, skipped_changed: 0 };
    const targets = await this.#targets();
    let items = 0;
    for (const target of targets) {
      const { compared, findings } = await this.#check(roundId, target);
      if (compared) items++;
      for (const finding of findings) actions[finding.action]++;
    }
    const found = actions.fixed + actions.logged + actions.skipped_changed;
    await log.finishRound(roundId, clock.now(), { items, found, fixed: actions.fixed });
    return {
      roundId,
      trigger: request.trigger,
      targets: targets.length,
      items,
      found,
      fixed: actions.fixed,
      logged: actions.logged,
      skippedChanged: actions.skipped_changed,
    };
  }

  /** Checks one target now (a round of its own, triggered `manual`); answers its findings, before and after. */
  async checkOne(target: LikeTarget): Promise<TargetCheck> {
    const { log, clock, cache } = this.#deps;
    const roundId = await log.startRound("manual", clock.now());
    const { compared, findings, cached } = await this.#check(roundId, target);
    const fixed = findings.filter((finding) => finding.action === "fixed").length;
    await log.finishRound(roundId, clock.now(), { items: compared ? 1 : 0, found: findings.length, fixed });
    const users = findings.flatMap((finding) => finding.kind === "count_mismatch" ? [] : [finding.userId]);
    return {
      roundId,
      target,
      findings,
      before: snapshot(cached, users),
      after: snapshot(await cache.inspect(target), users),
    };
  }

  /** Rounds, targets compared, inconsistencies found and fixed by kind, over the last `hours`. */
  async report(hours: number): Promise<ConsistencyReport> {
    const since = new Date(this.#deps.clock.now().getTime() - hours * 3_600_000);
    const totals = await this.#deps.log.totalsSince(since, latestFindings);
    return { hours, since, autoFix: this.#settings.autoFix, ...totals };
  }

  /** The projection's top targets and the recently changed ones, each once. */
  async #targets(): Promise<LikeTarget[]> {
    const { hotTargets, recentWindowMs, recentLimit } = this.#settings;
    const [hot, recent] = await Promise.all([
      hotTargets > 0 ? this.#deps.queries.topCounts(hotTargets) : [],
      recentLimit > 0 ? this.#deps.changed.changedWithin(recentWindowMs, recentLimit) : [],
    ]);
    const byKey = new Map<string, LikeTarget>();
    for (const target of [...hot.map((entry) => entry.target), ...recent]) {
      byKey.set(targetKey(target), target);
    }
    return [...byKey.values()];
  }

  /** Inspects, compares with the like rows, repairs if allowed, and records the findings. */
  async #check(
    roundId: string,
    target: LikeTarget,
  ): Promise<{ compared: boolean; findings: CheckedFinding[]; cached: CachedTarget }> {
    const { cache, log, clock, logger } = this.#deps;
    const cached = await cache.inspect(target);
    if (cached.count === undefined && cached.states.size === 0) {
      return { compared: false, findings: [], cached };
    }
    const [count, likedBy] = await Promise.all([
      cached.count === undefined ? undefined : this.#countLikes(target),
      this.#likedAmong(target, [...cached.states.keys()]),
    ]);
    const { findings, repair } = compareLikes(cached, { count, likedBy });
    if (findings.length === 0) return { compared: true, findings: [], cached };
    let action: FindingAction = "logged";
    if (this.#settings.autoFix) {
      const repaired = await cache.repair(target, cached.version, repair);
      action = repaired ? "fixed" : "skipped_changed";
    }
    const foundAt = clock.now();
    const checked = findings.map((finding): CheckedFinding => ({ ...finding, action }));
    await log.recordFindings(
      roundId,
      checked.map((finding): RecordedFinding => ({ ...finding, target, foundAt })),
    );
    logger.warn("like cache inconsistent with the like rows", {
      target,
      roundId,
      action,
      kinds: countKinds(findings),
    });
    return { compared: true, findings: checked, cached };
  }

  async #countLikes(target: LikeTarget): Promise<number> {
    return (await this.#deps.queries.countLikes([target])).get(targetKey(target)) ?? 0;
  }

  /** Which of the cached users have a like row; a cached user id that is no id at all has none. */
  async #likedAmong(target: LikeTarget, users: readonly string[]): Promise<Set<string>> {
    const ids = users.filter((user) => parseId(user) === user);
    const liked = new Set<string>();
    for (let i = 0; i < ids.length; i += usersPerQuery) {
      const chunk = await this.#deps.queries.likedAmong(target, ids.slice(i, i + usersPerQuery));
      for (const user of chunk) liked.add(user);
    }
    return liked;
  }
}

/** The count and the states of `users` in a cached view. */
function snapshot(cached: CachedTarget, users: readonly string[]): CacheSnapshot {
  const states: Record<string, boolean> = {};
  for (const user of users) {
    const state = cached.states.get(user);
    if (state !== undefined) states[user] = state;
  }
  return { count: cached.count ?? null, states };
}

/** How many findings of each kind. */
function countKinds(findings: readonly Finding[]): Partial<Record<FindingKind, number>> {
  const kinds: Partial<Record<FindingKind, number>> = {};
  for (const finding of findings) kinds[finding.kind] = (kinds[finding.kind] ?? 0) + 1;
  return kinds;
}
