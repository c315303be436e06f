/** The session cache in process memory (embedded mode: one process, so a drop is seen at once). */
import type { Clock } from "../../../application/ports.ts";
import type { SessionCache, SessionState } from "../../../application/usercenter/ports.ts";

export class MemorySessionCache implements SessionCache {
  readonly #entries = new Map<string, { state: SessionState; until: number }>();
  readonly #clock: Clock;
  readonly #ttlMs: number;

  constructor(options: { clock: Clock; ttlSeconds: number }) {
    this.#clock = options.clock;
    this.#ttlMs = options.ttlSeconds * 1000;
  }

  get(userId: string): Promise<SessionState | undefined> {
    const entry = this.#entries.get(userId);
    if (entry && entry.until <= this.#clock.now().getTime()) this.#entries.delete(userId);
    return Promise.resolve(entry && entry.until > this.#clock.now().getTime() ? entry.state : undefined);
  }

  set(userId: string, state: SessionState): Promise<void> {
    const current = this.#entries.get(userId);
    if (
      current && current.until > this.#clock.now().getTime() &&
      current.state.tokenVersion > state.tokenVersion
    ) {
      return Promise.resolve();
    }
    // Bounded: the oldest entry goes first once 100 000 accounts are cached.
    if (this.#entries.size >= 100_000) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(userId, { state, until: this.#clock.now().getTime() + this.#ttlMs });
    return Promise.resolve();
  }

  drop(userId: string): Promise<void> {
    this.#entries.delete(userId);
    return Promise.resolve();
  }
}
