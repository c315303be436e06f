import assert from "node:assert/strict";
import { MemoryHotRanking } from "../adapters/memory/interaction/hot_ranking.ts";
import { RedisHotRanking } from "../adapters/redis/interaction/hot_ranking.ts";
import { videoLikeChanges } from "../application/interaction/hot_ranking.ts";
import { likeEnvelope } from "../application/interaction/like_event.ts";
import { LikeAction } from "../domain/interaction/like.ts";
import { hotRankingContract, TestClock } from "./contracts/hot_ranking_contract.ts";
import { testRedis } from "./helpers.ts";

hotRankingContract("Redis", (clock) => {
  const redis = testRedis();
  return Promise.resolve({
    ranking: new RedisHotRanking(redis.prefixed, { clock }),
    close: () => redis[Symbol.asyncDispose](),
  });
});
hotRankingContract(
  "memory",
  (clock) => Promise.resolve({ ranking: new MemoryHotRanking({ clock }), close: () => Promise.resolve() }),
);

Deno.test("Redis: every key of the ranking is under the client's prefix and expires after the longest window", async () => {
  await using redis = testRedis();
  const now = new Date("2031-03-14T10:30:20Z");
  const ranking = new RedisHotRanking(redis.prefixed, { clock: new TestClock(now) });

  // given likes of this minute and of 23 h ago, then a query
  await ranking.record(
    videoLikeChanges([now, new Date(now.getTime() - 23 * 3_600_000)].map((at) =>
      likeEnvelope({
        type: "LikeAdded",
        userId: "1",
        target: { type: "video", id: "42" },
        action: LikeAction.like,
        at,
      })
    )),
  );
  await ranking.top("24h", 10);

  // then the keys all carry the test's prefix (none escaped it), the query's scratch key is gone,
  // and each expires within 24 h 10 min of its bucket
  const keys = await redis.redis.keys(`${redis.prefix}*`);
  assert.deepEqual(
    keys.map((key) => key.slice(redis.prefix.length).replace(/:\d+$/, "")).sort(),
    [
      "hot:video:applied",
      "hot:video:applied",
      "hot:video:hour",
      "hot:video:hour",
      "hot:video:minute",
      "hot:video:minute",
    ],
  );
  // Other processes may share this Redis: only keys of this test's own buckets (its clock) would be escapes.
  const escaped = (await redis.redis.keys("hot:video:*")).filter((key) =>
    keys.some((own) => own.slice(redis.prefix.length) === key)
  );
  assert.deepEqual(escaped, [], "no key outside the prefix");
  for (const key of keys) {
    const ttl = await redis.redis.ttl(key);
    assert.ok(ttl > 0 && ttl <= (24 * 60 + 10) * 60, `${key} expires in ${ttl} s`);
  }
});
