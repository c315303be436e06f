/** DistributedLock on Redis: SET NX PX with a random token, released only by its holder. */
import type { Redis } from "ioredis";
import type { DistributedLock, LockOutcome } from "../../application/ports.ts";

// Deletes the key only if it still holds our token: an expired lock taken by someone else stays theirs.
const releaseScript =
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** Locks named `<prefix>lock:<name>`. */
export class RedisLock implements DistributedLock {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, options: { prefix?: string } = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? "";
  }

  async tryWithLock<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<LockOutcome<T>> {
    const key = `${this.#prefix}lock:${name}`;
    const token = crypto.randomUUID();
    const taken = await this.#redis.set(key, token, "PX", ttlMs, "NX");
    if (taken !== "OK") return { acquired: false };
    try {
      return { acquired: true, value: await work() };
    } finally {
      await this.#redis.eval(releaseScript, 1, key, token).catch(() => {});
    }
  }
}
