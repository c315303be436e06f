/**
 * The hot ranking on Redis (ioredis). Each change adds to two sorted sets: its minute's and its hour's. A query
 * unions the hours wholly inside the window and the minutes at its two ends (a 24 h window reads at most ~140
 * sets, not 1 440). A set of applied event ids per minute, updated in the same script, makes a redelivered
 * event a no-op. Every key expires once no window can read it.
 *
 * Every key travels in KEYS (never built inside a script), so a client's `keyPrefix` applies to all of them.
 */
import type { Redis } from "ioredis";
import {
  bucketExpiresAt,
  type HotRanking,
  type HotVideo,
  type HotWindow,
  minuteOf,
  oldestRankedMinute,
  type VideoLikeChange,
  windowMinutes,
} from "../../../application/interaction/hot_ranking.ts";
import type { Clock } from "../../../application/ports.ts";

// KEYS, three per minute of the batch: its applied event ids, its scores, its hour's scores.
// ARGV[1]: how many minutes; then per minute the ttl (s) of its own keys and of its hour's (<= 0: no window
// reads that hour whole any more, so it is left alone); then per change: minute number, event id, video, delta.
const recordScript = `
local minutes = tonumber(ARGV[1])
local applied = 0
for i = 2 + 2 * minutes, #ARGV, 4 do
  local m = tonumber(ARGV[i])
  if redis.call('sadd', KEYS[3 * m - 2], ARGV[i + 1]) == 1 then
    redis.call('zincrby', KEYS[3 * m - 1], ARGV[i + 3], ARGV[i + 2])
    if tonumber(ARGV[2 * m + 1]) > 0 then
      redis.call('zincrby', KEYS[3 * m], ARGV[i + 3], ARGV[i + 2])
    end
    applied = applied + 1
  end
end
for m = 1, minutes do
  redis.call('expire', KEYS[3 * m - 2], ARGV[2 * m])
  redis.call('expire', KEYS[3 * m - 1], ARGV[2 * m])
  if tonumber(ARGV[2 * m + 1]) > 0 then
    redis.call('expire', KEYS[3 * m], ARGV[2 * m + 1])
  end
end
return applied`;

// KEYS[1]: a scratch key (created and deleted within the script); KEYS[2..]: the window's sets. ARGV[1]: limit.
const topScript = `
redis.call('zunionstore', KEYS[1], #KEYS - 1, unpack(KEYS, 2))
local top = redis.call('zrange', KEYS[1], '+inf', '(0', 'BYSCORE', 'REV', 'LIMIT', 0, ARGV[1], 'WITHSCORES')
redis.call('del', KEYS[1])
return top`;

/**
 * Keys (after the client's own prefix): `hot:video:minute:<n>`, `hot:video:hour:<n>`, `hot:video:applied:<n>`
 * (n counts minutes or hours since the epoch) and the scratch key `hot:video:top`.
 */
export class RedisHotRanking implements HotRanking {
  readonly #redis: Redis;
  readonly #clock: Clock;

  constructor(redis: Redis, options: { readonly clock: Clock }) {
    this.#redis = redis;
    this.#clock = options.clock;
  }

  async record(changes: readonly VideoLikeChange[]): Promise<number> {
    const now = this.#clock.now();
    const oldest = oldestRankedMinute(now);
    const minuteIndex = new Map<number, number>();
    const keys: string[] = [];
    const ttls: string[] = [];
    const entries: string[] = [];
    for (const change of changes) {
      const minute = minuteOf(change.at);
      if (minute < oldest) continue;
      let index = minuteIndex.get(minute);
      if (index === undefined) {
        minuteIndex.set(minute, index = minuteIndex.size + 1);
        const hour = Math.floor(minute / 60);
        keys.push(appliedKey(minute), minuteKey(minute), hourKey(hour));
        ttls.push(ttlSeconds(bucketExpiresAt(minute), now), ttlSeconds(bucketExpiresAt(hour * 60), now));
      }
      entries.push(String(index), change.eventId, change.videoId, String(change.delta));
    }
    if (keys.length === 0) return 0;
    const applied = await this.#redis.eval(
      recordScript,
      keys.length,
      ...keys,
      String(minuteIndex.size),
      ...ttls,
      ...entries,
    );
    return Number(applied);
  }

  async top(window: HotWindow, limit: number): Promise<HotVideo[]> {
    const { minutes, hours } = windowSets(windowMinutes(window, this.#clock.now()));
    const keys = [scratchKey, ...hours.map(hourKey), ...minutes.map(minuteKey)];
    const reply = await this.#redis.eval(topScript, keys.length, ...keys, String(limit));
    if (!Array.isArray(reply)) throw new Error(`unexpected reply to the hot ranking query: ${String(reply)}`);
    // Member, score, member, score...: scores come back as decimal strings.
    const flat: readonly unknown[] = reply;
    const ranked: HotVideo[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      ranked.push({ videoId: String(flat[i]), score: Number(flat[i + 1]) });
    }
    return ranked;
  }
}

const scratchKey = "hot:video:top";

function minuteKey(minute: number): string {
  return `hot:video:minute:${minute}`;
}

function hourKey(hour: number): string {
  return `hot:video:hour:${hour}`;
}

function appliedKey(minute: number): string {
  return `hot:video:applied:${minute}`;
}

function ttlSeconds(expiresAtMs: number, now: Date): string {
  return String(Math.ceil((expiresAtMs - now.getTime()) / 1000));
}

/** Covers minutes `first..last` with the hours wholly inside it and the minutes left at either end. */
function windowSets(range: { readonly first: number; readonly last: number }) {
  const { first, last } = range;
  const firstHour = Math.ceil(first / 60);
  const lastHour = Math.floor((last + 1) / 60) - 1;
  if (firstHour > lastHour) return { minutes: numbers(first, last), hours: [] };
  return {
    minutes: [...numbers(first, firstHour * 60 - 1), ...numbers((lastHour + 1) * 60, last)],
    hours: numbers(firstHour, lastHour),
  };
}

/** The integers `from..to`, both included (none when `to < from`). */
function numbers(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
