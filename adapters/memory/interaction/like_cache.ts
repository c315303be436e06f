/** The like cache in process memory: the embedded mode's and unit tests' stand-in for Redis, same protocol. */
import { type LikeTarget, targetKey } from "../../../domain/interaction/like.ts";
import type {
  CachedTarget,
  CacheStats,
  CountReader,
  LikeCache,
  LikeCacheInspection,
  LikeChange,
} from "../../../application/interaction/ports.ts";

interface Entry {
  version: number;
  count?: number;
  filledAt?: number;
  readonly users: Map<string, boolean>;
}

/** Same semantics as the Redis cache, without expiry. */
export class MemoryLikeCache implements LikeCache, LikeCacheInspection {
  readonly #entries = new Map<string, Entry>();
  #hits = 0;
  #misses = 0;

  #entry(target: LikeTarget): Entry {
    const key = targetKey(target);
    let entry = this.#entries.get(key);
    if (!entry) this.#entries.set(key, entry = { version: 0, users: new Map() });
    return entry;
  }

  #seen<T>(value: T | undefined): T | undefined {
    if (value === undefined) this.#misses++;
    else this.#hits++;
    return value;
  }

  likedBy(userId: string, target: LikeTarget): Promise<boolean | undefined> {
    return Promise.resolve(this.#seen(this.#entries.get(targetKey(target))?.users.get(userId)));
  }

  count(target: LikeTarget): Promise<number | undefined> {
    return Promise.resolve(this.#seen(this.#entries.get(targetKey(target))?.count));
  }

  beginChange(target: LikeTarget): Promise<number> {
    return Promise.resolve(++this.#entry(target).version);
  }

  commitChange(change: LikeChange): Promise<void> {
    const entry = this.#entry(change.target);
    entry.version++;
    if (entry.count !== undefined) {
      if (change.version === undefined || (entry.filledAt ?? 0) >= change.version) {
        entry.count = entry.filledAt = undefined;
      } else entry.count += change.delta;
    }
    entry.users.set(change.userId, change.liked);
    return Promise.resolve();
  }

  async fillCounts(targets: readonly LikeTarget[], read: CountReader): Promise<Map<string, number>> {
    const versions = targets.map((target) => this.#entry(target).version);
    const counts = await read(targets);
    for (const [index, target] of targets.entries()) {
      const entry = this.#entry(target);
      if (entry.version !== versions[index]) continue;
      entry.count = counts.get(targetKey(target)) ?? 0;
      entry.filledAt = versions[index];
    }
    return counts;
  }

  fillLiked(userId: string, target: LikeTarget, liked: boolean): Promise<void> {
    const users = this.#entry(target).users;
    if (!users.has(userId)) users.set(userId, liked);
    return Promise.resolve();
  }

  inspect(target: LikeTarget): Promise<CachedTarget> {
    const entry = this.#entry(target);
    return Promise.resolve({
      version: entry.version,
      ...(entry.count !== undefined ? { count: entry.count } : {}),
      states: new Map(entry.users),
    });
  }

  repair(
    target: LikeTarget,
    version: number,
    values: { readonly count?: number; readonly states?: ReadonlyMap<string, boolean | null> },
  ): Promise<boolean> {
    const entry = this.#entry(target);
    if (entry.version !== version) return Promise.resolve(false);
    if (values.count !== undefined) [entry.count, entry.filledAt] = [values.count, version];
    for (const [user, state] of values.states ?? []) {
      if (state === null) entry.users.delete(user);
      else entry.users.set(user, state);
    }
    return Promise.resolve(true);
  }

  stats(): Promise<CacheStats> {
    const entries = [...this.#entries.values()];
    const total = this.#hits + this.#misses;
    return Promise.resolve({
      backend: "memory",
      hits: this.#hits,
      misses: this.#misses,
      hitRatio: total === 0 ? 0 : this.#hits / total,
      keys: {
        targets: entries.filter((e) => e.count !== undefined).length,
        userStates: entries.filter((e) => e.users.size > 0).length,
      },
    });
  }
}
