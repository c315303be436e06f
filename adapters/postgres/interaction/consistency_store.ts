/** The like cache's consistency record and the recently changed targets, on PostgreSQL (server or PGlite). */
import {
  type FindingAction,
  type FindingKind,
  findingKinds,
} from "../../../domain/interaction/consistency.ts";
import type { LikeTarget, TargetType } from "../../../domain/interaction/like.ts";
import type {
  ChangedTargets,
  ConsistencyLog,
  ConsistencyTotals,
  RecordedFinding,
  RoundTotals,
  RoundTrigger,
} from "../../../application/interaction/consistency_ports.ts";
import type { SqlClient } from "../sql_client.ts";

interface FindingRow {
  round_id: string;
  target_type: TargetType;
  target_id: string;
  kind: FindingKind;
  user_id: string | null;
  cache_value: string;
  database_value: string;
  action: FindingAction;
  found_at: string;
}

/** Rounds and findings in `like_consistency_*`, and the targets the projection updated lately. */
export class PostgresConsistencyStore implements ConsistencyLog, ChangedTargets {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async changedWithin(windowMs: number, limit: number): Promise<LikeTarget[]> {
    // The projection stamps updated_at with the database's now(): compare with the same clock.
    const rows = await this.#sql.query<{ target_type: TargetType; target_id: string }>(
      `select target_type, target_id::text as target_id from like_counts
       where updated_at > now() - make_interval(secs => $1::double precision / 1000)
       order by updated_at desc limit $2`,
      [windowMs, limit],
    );
    return rows.map((row) => ({ type: row.target_type, id: row.target_id }));
  }

  async startRound(trigger: RoundTrigger, at: Date): Promise<string> {
    const [row] = await this.#sql.query<{ id: string }>(
      `insert into like_consistency_rounds (trigger, started_at) values ($1, $2::timestamptz)
       returning id::text as id`,
      [trigger, at.toISOString()],
    );
    return row.id;
  }

  async recordFindings(roundId: string, findings: readonly RecordedFinding[]): Promise<void> {
    if (findings.length === 0) return;
    // One statement for the lot: the findings as one JSON document (a text parameter, cast in SQL).
    const document = JSON.stringify(findings.map((finding) => ({
      target_type: finding.target.type,
      target_id: finding.target.id,
      kind: finding.kind,
      user_id: finding.kind === "count_mismatch" ? null : finding.userId,
      cache_value: finding.cacheValue,
      database_value: finding.databaseValue,
      action: finding.action,
      found_at: finding.foundAt.toISOString(),
    })));
    await this.#sql.query(
      `insert into like_consistency_findings
         (round_id, target_type, target_id, kind, user_id, cache_value, database_value, action, found_at)
       select $1::bigint, f.target_type, f.target_id::bigint, f.kind, f.user_id, f.cache_value, f.database_value,
              f.action, f.found_at::timestamptz
       from jsonb_to_recordset($2::text::jsonb) as f(target_type text, target_id text, kind text, user_id text,
              cache_value jsonb, database_value jsonb, action text, found_at text)`,
      [roundId, document],
    );
  }

  async finishRound(roundId: string, at: Date, totals: RoundTotals): Promise<void> {
    await this.#sql.query(
      `update like_consistency_rounds set finished_at = $2::timestamptz, items = $3, found = $4, fixed = $5
       where id = $1::bigint`,
      [roundId, at.toISOString(), totals.items, totals.found, totals.fixed],
    );
  }

  async totalsSince(since: Date, latest: number): Promise<ConsistencyTotals> {
    const from = since.toISOString();
    const [[rounds], byKindRows, latestRows] = await Promise.all([
      this.#sql.query<{ rounds: number; unfinished: number; items: number }>(
        `select count(*)::int as rounds, count(*) filter (where finished_at is null)::int as unfinished,
                coalesce(sum(items) filter (where finished_at is not null), 0)::int as items
         from like_consistency_rounds where started_at >= $1::timestamptz`,
        [from],
      ),
      this.#sql.query<{ kind: FindingKind; action: FindingAction; n: number }>(
        `select kind, action, count(*)::int as n from like_consistency_findings
         where found_at >= $1::timestamptz group by kind, action`,
        [from],
      ),
      this.#sql.query<FindingRow>(
        `select round_id::text as round_id, target_type, target_id::text as target_id, kind, user_id,
                cache_value::text as cache_value, database_value::text as database_value, action,
                to_json(found_at) #>> '{}' as found_at
         from like_consistency_findings where found_at >= $1::timestamptz
         order by found_at desc, id desc limit $2`,
        [from, latest],
      ),
    ]);
    const n = (kind: FindingKind, action: FindingAction) =>
      byKindRows.find((row) => row.kind === kind && row.action === action)?.n ?? 0;
    const actions = (kind: FindingKind) => ({
      fixed: n(kind, "fixed"),
      logged: n(kind, "logged"),
      skipped_changed: n(kind, "skipped_changed"),
    });
    // Typed by the kinds: a kind added to the domain's list without a line here does not compile.
    const byKind: Record<FindingKind, Record<FindingAction, number>> = {
      count_mismatch: actions("count_mismatch"),
      state_missing: actions("state_missing"),
      state_extra: actions("state_extra"),
    };
    const found = byKindRows.reduce((sum, row) => sum + row.n, 0);
    const fixed = findingKinds.reduce((sum, kind) => sum + byKind[kind].fixed, 0);
    return {
      rounds: rounds.rounds,
      unfinishedRounds: rounds.unfinished,
      items: rounds.items,
      found,
      fixed,
      byKind,
      latest: latestRows.map(findingOf),
    };
  }
}

/** A finding row as the port returns it. */
function findingOf(row: FindingRow): RecordedFinding & { readonly roundId: string } {
  const common = {
    roundId: row.round_id,
    target: { type: row.target_type, id: row.target_id },
    action: row.action,
    foundAt: new Date(row.found_at),
  };
  if (row.kind === "count_mismatch") {
    return {
      ...common,
      kind: row.kind,
      cacheValue: countOf(row.cache_value),
      databaseValue: countOf(row.database_value),
    };
  }
  return {
    ...common,
    kind: row.kind,
    userId: row.user_id ?? "",
    cacheValue: JSON.parse(row.cache_value) === true,
    databaseValue: JSON.parse(row.database_value) === true,
  };
}

/** A recorded count; a cached count that was no number (stored as JSON null) reads back as NaN. */
function countOf(json: string): number {
  const value: unknown = JSON.parse(json);
  return typeof value === "number" ? value : NaN;
}
