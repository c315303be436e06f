/** Ports of the like cache's consistency check (seed 004): which targets to check, and its record. */
import type { Finding, FindingAction, FindingKind } from "../../domain/interaction/consistency.ts";
import type { LikeTarget } from "../../domain/interaction/like.ts";

/** What starts a round: the periodic job, or an operator's check of one target. */
export const roundTriggers = ["scheduled", "manual"] as const;

/** A trigger of a round. */
export type RoundTrigger = typeof roundTriggers[number];

/** Targets whose likes changed lately: the projection rows it updated. */
export interface ChangedTargets {
  /**
   * Targets whose like count changed within the last `windowMs` (by the database's clock, the one that stamped
   * them), most recent first, at most `limit`.
   */
  changedWithin(windowMs: number, limit: number): Promise<LikeTarget[]>;
}

/** A finding as recorded: where, what was done, when. */
export type RecordedFinding = Finding & {
  readonly target: LikeTarget;
  readonly action: FindingAction;
  readonly foundAt: Date;
};

/** The totals of a round, written when it finishes. */
export interface RoundTotals {
  /** Targets compared. */
  readonly items: number;
  /** Inconsistencies found. */
  readonly found: number;
  /** Inconsistencies repaired. */
  readonly fixed: number;
}

/** What happened over a period, by kind of inconsistency. */
export interface ConsistencyTotals {
  /** Rounds started in the period. */
  readonly rounds: number;
  /** Of those, rounds that have not finished (running, or aborted by an error). */
  readonly unfinishedRounds: number;
  /** Targets compared by the finished rounds. */
  readonly items: number;
  readonly found: number;
  readonly fixed: number;
  /** Findings by kind and by what was done. */
  readonly byKind: Readonly<Record<FindingKind, Readonly<Record<FindingAction, number>>>>;
  /** The latest findings, newest first. */
  readonly latest: readonly (RecordedFinding & { readonly roundId: string })[];
}

/** The record of rounds and their findings. */
export interface ConsistencyLog {
  /** Records a round as started; returns its id. */
  startRound(trigger: RoundTrigger, at: Date): Promise<string>;
  /** Records findings of a round as they are found (a round that dies midway keeps what it did). */
  recordFindings(roundId: string, findings: readonly RecordedFinding[]): Promise<void>;
  /** Records a round as finished, with its totals. */
  finishRound(roundId: string, at: Date, totals: RoundTotals): Promise<void>;
  /** Totals of the rounds started and findings found at or after `since`, with the `latest` findings. */
  totalsSince(since: Date, latest: number): Promise<ConsistencyTotals>;
}
