/** Use case: fill the like cache with the hottest targets' true counts, so first reads are fast. */
import type { Clock } from "../ports.ts";
import type { LikeCache, LikeQueries } from "./ports.ts";

/** What the last warm-up did (for `GET /cache/stats`). */
export interface WarmUpStatus {
  readonly state: "never" | "running" | "done" | "failed";
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly targets?: number;
  readonly error?: string;
}

/** Warms the cache in chunks, one run at a time; started at start-up in the background and on demand. */
export class LikeCacheWarmer {
  readonly #deps: { readonly queries: LikeQueries; readonly cache: LikeCache; readonly clock: Clock };
  readonly #limit: number;
  #status: WarmUpStatus = { state: "never" };
  #running: Promise<WarmUpStatus> | undefined;

  constructor(deps: { queries: LikeQueries; cache: LikeCache; clock: Clock }, limit = 1000) {
    this.#deps = deps;
    this.#limit = limit;
  }

  /** The last run's status. */
  status(): WarmUpStatus {
    return this.#status;
  }

  /** Starts a run (or joins the one running); resolves with its status, never rejects. */
  run(): Promise<WarmUpStatus> {
    this.#running ??= this.#warm().finally(() => this.#running = undefined);
    return this.#running;
  }

  async #warm(): Promise<WarmUpStatus> {
    const startedAt = this.#deps.clock.now().toISOString();
    this.#status = { state: "running", startedAt };
    try {
      // The projection names the hottest targets; their counts come from the like rows (the projection lags).
      const hot = (await this.#deps.queries.topCounts(this.#limit)).map((entry) => entry.target);
      for (let i = 0; i < hot.length; i += 200) {
        await this.#deps.cache.fillCounts(
          hot.slice(i, i + 200),
          (targets) => this.#deps.queries.countLikes(targets),
        );
      }
      this.#status = {
        state: "done",
        startedAt,
        finishedAt: this.#deps.clock.now().toISOString(),
        targets: hot.length,
      };
    } catch (error) {
      this.#status = {
        state: "failed",
        startedAt,
        finishedAt: this.#deps.clock.now().toISOString(),
        error: String(error),
      };
    }
    return this.#status;
  }
}
