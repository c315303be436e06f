/** The hot ranking in process memory: the embedded mode's stand-in for Redis, with the same behaviour. */
import {
  type HotRanking,
  type HotVideo,
  type HotWindow,
  minuteOf,
  oldestRankedMinute,
  type VideoLikeChange,
  windowMinutes,
} from "../../../application/interaction/hot_ranking.ts";
import type { Clock } from "../../../application/ports.ts";

/** One minute's scores by video, and the event ids already applied to them. */
interface MinuteBucket {
  readonly applied: Set<string>;
  readonly scores: Map<string, number>;
}

/** Per-minute buckets in a Map; buckets no window covers any more are dropped as time passes. */
export class MemoryHotRanking implements HotRanking {
  readonly #clock: Clock;
  readonly #buckets = new Map<number, MinuteBucket>();

  constructor(options: { readonly clock: Clock }) {
    this.#clock = options.clock;
  }

  record(changes: readonly VideoLikeChange[]): Promise<number> {
    const oldest = this.#dropExpired();
    let applied = 0;
    for (const change of changes) {
      const minute = minuteOf(change.at);
      if (minute < oldest) continue;
      let bucket = this.#buckets.get(minute);
      if (!bucket) this.#buckets.set(minute, bucket = { applied: new Set(), scores: new Map() });
      if (bucket.applied.has(change.eventId)) continue;
      bucket.applied.add(change.eventId);
      bucket.scores.set(change.videoId, (bucket.scores.get(change.videoId) ?? 0) + change.delta);
      applied++;
    }
    return Promise.resolve(applied);
  }

  top(window: HotWindow, limit: number): Promise<HotVideo[]> {
    this.#dropExpired();
    const { first, last } = windowMinutes(window, this.#clock.now());
    const totals = new Map<string, number>();
    for (const [minute, bucket] of this.#buckets) {
      if (minute < first || minute > last) continue;
      for (const [videoId, score] of bucket.scores) totals.set(videoId, (totals.get(videoId) ?? 0) + score);
    }
    const ranked = [...totals]
      .filter(([, score]) => score > 0)
      .map(([videoId, score]) => ({ videoId, score }))
      // Equal scores: the higher id first, as Redis's reverse range orders members (ids are ASCII digits).
      .sort((a, b) => b.score - a.score || (a.videoId < b.videoId ? 1 : a.videoId > b.videoId ? -1 : 0));
    return Promise.resolve(ranked.slice(0, limit));
  }

  /** Drops the buckets no window covers; returns the oldest minute still ranked. */
  #dropExpired(): number {
    const oldest = oldestRankedMinute(this.#clock.now());
    for (const minute of this.#buckets.keys()) {
      if (minute < oldest) this.#buckets.delete(minute);
    }
    return oldest;
  }
}
