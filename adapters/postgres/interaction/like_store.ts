/** Likes and like counts on PostgreSQL (server or PGlite). */
import { type CountDelta, type LikeTarget, targetKey } from "../../../domain/interaction/like.ts";
import type {
  LikeCountStore,
  LikeQueries,
  LikeRepository,
  TargetCount,
} from "../../../application/interaction/ports.ts";
import type { SqlClient } from "../sql_client.ts";

/** Like rows in a transaction, and the read queries on a pool: the same SQL. */
export class PostgresLikeStore implements LikeRepository, LikeQueries {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async isLiked(userId: string, target: LikeTarget): Promise<boolean> {
    const rows = await this.#sql.query(
      "select 1 from likes where target_type = $1 and target_id = $2 and user_id = $3",
      [target.type, target.id, userId],
    );
    return rows.length > 0;
  }

  async add(userId: string, target: LikeTarget, at: Date): Promise<boolean> {
    const rows = await this.#sql.query(
      `insert into likes (target_type, target_id, user_id, created_at)
       select $1, $2, $3, $4 where not exists (select 1 from forgotten_users where user_id = $3)
       on conflict do nothing returning 1`,
      [target.type, target.id, userId, at.toISOString()],
    );
    return rows.length > 0;
  }

  async remove(userId: string, target: LikeTarget): Promise<boolean> {
    const rows = await this.#sql.query(
      "delete from likes where target_type = $1 and target_id = $2 and user_id = $3 returning 1",
      [target.type, target.id, userId],
    );
    return rows.length > 0;
  }

  async forget(userId: string): Promise<void> {
    await this.#sql.query("insert into forgotten_users (user_id) values ($1) on conflict do nothing", [
      userId,
    ]);
  }

  async likedBy(userId: string, limit: number): Promise<LikeTarget[]> {
    const rows = await this.#sql.query<{ target_type: LikeTarget["type"]; target_id: string }>(
      "select target_type, target_id::text as target_id from likes where user_id = $1 limit $2",
      [userId, limit],
    );
    return rows.map((row) => ({ type: row.target_type, id: row.target_id }));
  }

  async countLikes(targets: readonly LikeTarget[]): Promise<Map<string, number>> {
    const counts = new Map(targets.map((target) => [targetKey(target), 0]));
    if (targets.length === 0) return counts;
    // The like rows' primary key starts with (target_type, target_id): an index-only count per target.
    const rows = await this.#sql.query<{ target_type: string; target_id: string; n: number }>(
      `select t.target_type, t.target_id::text as target_id,
              (select count(*)::int from likes l where l.target_type = t.target_type and l.target_id = t.target_id) as n
       from unnest($1::text[], $2::bigint[]) as t(target_type, target_id)`,
      [targets.map((t) => t.type), targets.map((t) => t.id)],
    );
    for (const row of rows) counts.set(`${row.target_type}:${row.target_id}`, row.n);
    return counts;
  }

  async likedAmong(target: LikeTarget, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const rows = await this.#sql.query<{ user_id: string }>(
      `select user_id::text as user_id from likes
       where target_type = $1 and target_id = $2 and user_id = any($3::bigint[])`,
      [target.type, target.id, userIds],
    );
    return new Set(rows.map((row) => row.user_id));
  }

  async topCounts(limit: number): Promise<TargetCount[]> {
    const rows = await this.#sql.query<
      { target_type: "video" | "comment"; target_id: string; count: string }
    >(
      `select target_type, target_id::text as target_id, count::text as count from like_counts
       order by like_counts.count desc limit $1`,
      [limit],
    );
    return rows.map((row) => ({
      target: { type: row.target_type, id: row.target_id },
      count: Number(row.count),
    }));
  }
}

/** The like-count projection: one upsert statement per batch. */
export class PostgresLikeCountStore implements LikeCountStore {
  readonly #tx: SqlClient;

  constructor(tx: SqlClient) {
    this.#tx = tx;
  }

  async apply(deltas: readonly CountDelta[]): Promise<TargetCount[]> {
    if (deltas.length === 0) return [];
    const rows = await this.#tx.query<{ target_type: "video" | "comment"; target_id: string; count: string }>(
      `insert into like_counts (target_type, target_id, count)
       select * from unnest($1::text[], $2::bigint[], $3::bigint[])
       on conflict (target_type, target_id)
       do update set count = like_counts.count + excluded.count, updated_at = now()
       returning target_type, target_id::text as target_id, count::text as count`,
      [deltas.map((d) => d.target.type), deltas.map((d) => d.target.id), deltas.map((d) => d.delta)],
    );
    return rows.map((row) => ({
      target: { type: row.target_type, id: row.target_id },
      count: Number(row.count),
    }));
  }
}
