/** The like cache in process memory: the embedded mode's and unit tests' stand-in for Redis. */
import type { LikeTarget } from "../../../domain/interaction/like.ts";
import type { LikeCache, TargetCount } from "../../../application/interaction/ports.ts";

/** Same semantics as the Redis cache, without expiry. */
export class MemoryLikeCache implements LikeCache {
  readonly #states = new Map<string, boolean>();
  readonly #counts = new Map<string, number>();

  likedBy(userId: string, target: LikeTarget): Promise<boolean | undefined> {
    return Promise.resolve(this.#states.get(`${target.type}:${target.id}:${userId}`));
  }

  count(target: LikeTarget): Promise<number | undefined> {
    return Promise.resolve(this.#counts.get(`${target.type}:${target.id}`));
  }

  setLiked(userId: string, target: LikeTarget, liked: boolean, countDelta?: number): Promise<void> {
    this.#states.set(`${target.type}:${target.id}:${userId}`, liked);
    const key = `${target.type}:${target.id}`;
    const current = this.#counts.get(key);
    if (countDelta !== undefined && current !== undefined) this.#counts.set(key, current + countDelta);
    return Promise.resolve();
  }

  setCounts(counts: readonly TargetCount[]): Promise<void> {
    for (const { target, count } of counts) this.#counts.set(`${target.type}:${target.id}`, count);
    return Promise.resolve();
  }
}
