/** The like cache on Redis (ioredis): per-user state and counts, with a TTL so cold keys leave. */
import type { Redis } from "ioredis";
import type { LikeTarget } from "../../../domain/interaction/like.ts";
import type { LikeCache, TargetCount } from "../../../application/interaction/ports.ts";

// Adjusts a count only when it is cached: a missing count is read from the database, never guessed.
const adjustScript = `
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[3])
if ARGV[2] ~= '' and redis.call('exists', KEYS[2]) == 1 then
  redis.call('incrby', KEYS[2], ARGV[2])
end
return 1`;

/** Redis keys: `<prefix>like:state:<type>:<id>:<user>` and `<prefix>like:count:<type>:<id>`. */
export class RedisLikeCache implements LikeCache {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlSeconds: number;

  constructor(redis: Redis, options: { prefix?: string; ttlSeconds?: number } = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? "";
    this.#ttlSeconds = options.ttlSeconds ?? 86_400;
  }

  #stateKey(userId: string, target: LikeTarget): string {
    return `${this.#prefix}like:state:${target.type}:${target.id}:${userId}`;
  }

  #countKey(target: LikeTarget): string {
    return `${this.#prefix}like:count:${target.type}:${target.id}`;
  }

  async likedBy(userId: string, target: LikeTarget): Promise<boolean | undefined> {
    const value = await this.#redis.get(this.#stateKey(userId, target));
    return value === null ? undefined : value === "1";
  }

  async count(target: LikeTarget): Promise<number | undefined> {
    const value = await this.#redis.get(this.#countKey(target));
    return value === null ? undefined : Number(value);
  }

  async setLiked(userId: string, target: LikeTarget, liked: boolean, countDelta?: number): Promise<void> {
    await this.#redis.eval(
      adjustScript,
      2,
      this.#stateKey(userId, target),
      this.#countKey(target),
      liked ? "1" : "0",
      countDelta === undefined ? "" : String(countDelta),
      String(this.#ttlSeconds),
    );
  }

  async setCounts(counts: readonly TargetCount[]): Promise<void> {
    if (counts.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const { target, count } of counts) {
      pipeline.set(this.#countKey(target), String(count), "EX", this.#ttlSeconds);
    }
    await pipeline.exec();
  }
}
