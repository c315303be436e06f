/** DistributedLock inside one process: the embedded mode's stand-in for Redis. */
import type { DistributedLock, LockOutcome } from "../../application/ports.ts";

/** Same semantics as the Redis lock (held until released or expired), for one process. */
export class MemoryLock implements DistributedLock {
  readonly #held = new Map<string, { token: symbol; expiresAt: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async tryWithLock<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<LockOutcome<T>> {
    const current = this.#held.get(name);
    if (current && current.expiresAt > this.#now()) return { acquired: false };
    const token = Symbol(name);
    this.#held.set(name, { token, expiresAt: this.#now() + ttlMs });
    try {
      return { acquired: true, value: await work() };
    } finally {
      if (this.#held.get(name)?.token === token) this.#held.delete(name);
    }
  }
}
