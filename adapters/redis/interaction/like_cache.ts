/**
 * The like cache on Redis (ioredis). Per target: a hash `like:target:<type>:<id>` with the change version
 * (`version`), the count and the version the count was filled at (`filledAt`); a hash `like:users:<type>:<id>`
 * of user id → 1/0. Both expire after a day without writes. The version protocol is LikeCache's.
 */
import type { Redis } from "ioredis";
import { type LikeTarget, targetKey } from "../../../domain/interaction/like.ts";
import type {
  CachedTarget,
  CacheStats,
  CountReader,
  LikeCache,
  LikeCacheInspection,
  LikeChange,
} from "../../../application/interaction/ports.ts";

// KEYS: target, users. ARGV: version (-1 unknown), delta, user, state, ttl.
const commitScript = `
redis.call('hincrby', KEYS[1], 'version', 1)
local count = redis.call('hget', KEYS[1], 'count')
if count then
  local filledAt = tonumber(redis.call('hget', KEYS[1], 'filledAt') or '0')
  local version = tonumber(ARGV[1])
  if version < 0 or filledAt >= version then
    redis.call('hdel', KEYS[1], 'count', 'filledAt')
  else
    redis.call('hincrby', KEYS[1], 'count', ARGV[2])
  end
end
redis.call('hset', KEYS[2], ARGV[3], ARGV[4])
redis.call('expire', KEYS[1], ARGV[5])
redis.call('expire', KEYS[2], ARGV[5])
return 1`;

// KEYS: target. ARGV: version read before the database, count, ttl. Lands only if no change began since.
const fillScript = `
if tonumber(redis.call('hget', KEYS[1], 'version') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('hset', KEYS[1], 'count', ARGV[2], 'filledAt', ARGV[1])
redis.call('expire', KEYS[1], ARGV[3])
return 1`;

// KEYS: target, users. ARGV: version, ttl, count ('' none), then user/state pairs (state '' removes).
const repairScript = `
if tonumber(redis.call('hget', KEYS[1], 'version') or '0') ~= tonumber(ARGV[1]) then return 0 end
if ARGV[3] ~= '' then
  redis.call('hset', KEYS[1], 'count', ARGV[3], 'filledAt', ARGV[1])
  redis.call('expire', KEYS[1], ARGV[2])
end
for i = 4, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('hdel', KEYS[2], ARGV[i]) else redis.call('hset', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
if #ARGV > 3 then redis.call('expire', KEYS[2], ARGV[2]) end
return 1`;

/** The like cache and its inspection on Redis. */
export class RedisLikeCache implements LikeCache, LikeCacheInspection {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlSeconds: number;
  #hits = 0;
  #misses = 0;

  constructor(redis: Redis, options: { prefix?: string; ttlSeconds?: number } = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? "";
    this.#ttlSeconds = options.ttlSeconds ?? 86_400;
  }

  #targetKey(target: LikeTarget): string {
    return `${this.#prefix}like:target:${target.type}:${target.id}`;
  }

  #usersKey(target: LikeTarget): string {
    return `${this.#prefix}like:users:${target.type}:${target.id}`;
  }

  #count(hit: boolean): void {
    if (hit) this.#hits++;
    else this.#misses++;
  }

  async likedBy(userId: string, target: LikeTarget): Promise<boolean | undefined> {
    const value = await this.#redis.hget(this.#usersKey(target), userId);
    this.#count(value !== null);
    return value === null ? undefined : value === "1";
  }

  async count(target: LikeTarget): Promise<number | undefined> {
    const value = await this.#redis.hget(this.#targetKey(target), "count");
    this.#count(value !== null);
    return value === null ? undefined : Number(value);
  }

  async beginChange(target: LikeTarget): Promise<number> {
    const key = this.#targetKey(target);
    const [[error, version]] = (await this.#redis.multi().hincrby(key, "version", 1).expire(
      key,
      this.#ttlSeconds,
    ).exec())!;
    if (error) throw error;
    return Number(version);
  }

  async commitChange(change: LikeChange): Promise<void> {
    await this.#redis.eval(
      commitScript,
      2,
      this.#targetKey(change.target),
      this.#usersKey(change.target),
      String(change.version ?? -1),
      String(change.delta),
      change.userId,
      change.liked ? "1" : "0",
      String(this.#ttlSeconds),
    );
  }

  async fillCounts(targets: readonly LikeTarget[], read: CountReader): Promise<Map<string, number>> {
    if (targets.length === 0) return new Map();
    const versions = await Promise.all(targets.map((t) => this.#redis.hget(this.#targetKey(t), "version")));
    const counts = await read(targets);
    const pipeline = this.#redis.pipeline();
    for (const [index, target] of targets.entries()) {
      const count = counts.get(targetKey(target)) ?? 0;
      pipeline.eval(
        fillScript,
        1,
        this.#targetKey(target),
        versions[index] ?? "0",
        String(count),
        String(this.#ttlSeconds),
      );
    }
    await pipeline.exec();
    return counts;
  }

  async fillLiked(userId: string, target: LikeTarget, liked: boolean): Promise<void> {
    const key = this.#usersKey(target);
    await this.#redis.multi().hsetnx(key, userId, liked ? "1" : "0").expire(key, this.#ttlSeconds).exec();
  }

  async inspect(target: LikeTarget): Promise<CachedTarget> {
    const [fields, users] = await Promise.all([
      this.#redis.hgetall(this.#targetKey(target)),
      this.#redis.hgetall(this.#usersKey(target)),
    ]);
    return {
      version: Number(fields.version ?? 0),
      ...(fields.count !== undefined ? { count: Number(fields.count) } : {}),
      states: new Map(Object.entries(users).map(([user, state]) => [user, state === "1"])),
    };
  }

  async repair(
    target: LikeTarget,
    version: number,
    values: { readonly count?: number; readonly states?: ReadonlyMap<string, boolean | null> },
  ): Promise<boolean> {
    const pairs = [...(values.states ?? new Map())].flatMap(([user, state]) => [
      user,
      state === null ? "" : state ? "1" : "0",
    ]);
    const done = await this.#redis.eval(
      repairScript,
      2,
      this.#targetKey(target),
      this.#usersKey(target),
      String(version),
      String(this.#ttlSeconds),
      values.count === undefined ? "" : String(values.count),
      ...pairs,
    );
    return done === 1;
  }

  async stats(): Promise<CacheStats> {
    const [targets, users, info] = await Promise.all([
      this.#countKeys(`${this.#prefix}like:target:*`),
      this.#countKeys(`${this.#prefix}like:users:*`),
      this.#redis.info("memory"),
    ]);
    const memory = info.match(/^used_memory:(\d+)/m)?.[1];
    const total = this.#hits + this.#misses;
    return {
      backend: "redis",
      hits: this.#hits,
      misses: this.#misses,
      hitRatio: total === 0 ? 0 : this.#hits / total,
      keys: { targets, userStates: users },
      ...(memory ? { memoryBytes: Number(memory) } : {}),
    };
  }

  /** Counts keys matching `pattern` with SCAN (never KEYS: it would block Redis on a large keyspace). */
  async #countKeys(pattern: string): Promise<number> {
    let cursor = "0";
    let count = 0;
    // ioredis' keyPrefix is not applied to SCAN patterns: add it here.
    const prefix = (this.#redis.options.keyPrefix ?? "") as string;
    do {
      const [next, keys] = await this.#redis.scan(cursor, "MATCH", `${prefix}${pattern}`, "COUNT", 1000);
      cursor = next;
      count += keys.length;
    } while (cursor !== "0");
    return count;
  }
}
