/** Contract of the like cache (Redis and in-memory) and of the distributed lock. */
import assert from "node:assert/strict";
import type { LikeCache, LikeCacheInspection } from "../../application/interaction/ports.ts";
import { type LikeTarget, targetKey } from "../../domain/interaction/like.ts";
import type { DistributedLock } from "../../application/ports.ts";

const video = { type: "video" as const, id: "42" };

/** Counts the `read` calls and answers from `truth`. */
function reader(truth: Record<string, number>) {
  const calls: string[][] = [];
  return {
    calls,
    read: (targets: readonly LikeTarget[]) => {
      calls.push(targets.map(targetKey));
      return Promise.resolve(new Map(targets.map((t) => [targetKey(t), truth[targetKey(t)] ?? 0])));
    },
  };
}

/** Registers the like-cache contract for one adapter. */
export function likeCacheContract(
  name: string,
  open: () => Promise<{ cache: LikeCache & LikeCacheInspection; close(): Promise<void> }>,
) {
  Deno.test(`${name}: a miss is undefined, never a guess; a change stores the state`, async () => {
    const { cache, close } = await open();
    try {
      assert.equal(await cache.likedBy("1", video), undefined);
      assert.equal(await cache.count(video), undefined);
      const version = await cache.beginChange(video);
      await cache.commitChange({ userId: "1", target: video, liked: true, delta: 1, version });
      assert.equal(await cache.likedBy("1", video), true);
      assert.equal(
        await cache.count(video),
        undefined,
        "a count that was not cached is not invented from a delta",
      );
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a filled count follows later changes; targets are kept apart`, async () => {
    const { cache, close } = await open();
    try {
      const truth = reader({ "video:42": 10, "comment:42": 3 });
      await cache.fillCounts([video, { type: "comment", id: "42" }], truth.read);
      assert.deepEqual(truth.calls, [["video:42", "comment:42"]]);
      assert.equal(await cache.count(video), 10);
      let version = await cache.beginChange(video);
      await cache.commitChange({ userId: "2", target: video, liked: true, delta: 1, version });
      assert.equal(await cache.count(video), 11);
      version = await cache.beginChange(video);
      await cache.commitChange({ userId: "2", target: video, liked: false, delta: -1, version });
      assert.equal(await cache.count(video), 10);
      assert.equal(await cache.likedBy("2", video), false);
      assert.equal(await cache.count({ type: "comment", id: "42" }), 3);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a fill racing a change never lands a stale or double count`, async () => {
    const { cache, close } = await open();
    try {
      // given a fill that read the database before a change began: it is refused
      let version = 0;
      await cache.fillCounts([video], async (targets) => {
        version = await cache.beginChange(video); // a change begins while the fill reads
        return new Map(targets.map((t) => [targetKey(t), 5]));
      });
      assert.equal(await cache.count(video), undefined, "the fill read before the change: refused");
      await cache.commitChange({ userId: "7", target: video, liked: true, delta: 1, version });

      // given a fill that began after a change began, and landed before it committed: it may include the change,
      // so the commit drops the count instead of adding to it (no double count)
      version = await cache.beginChange(video);
      await cache.fillCounts([video], reader({ "video:42": 7 }).read);
      assert.equal(await cache.count(video), 7);
      await cache.commitChange({ userId: "8", target: video, liked: true, delta: 1, version });
      assert.equal(await cache.count(video), undefined, "dropped, to be read again from the database");

      // and a fill after the commit lands and holds
      await cache.fillCounts([video], reader({ "video:42": 7 }).read);
      assert.equal(await cache.count(video), 7);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a state fill never overwrites a state a change stored`, async () => {
    const { cache, close } = await open();
    try {
      const version = await cache.beginChange(video);
      await cache.commitChange({ userId: "3", target: video, liked: true, delta: 1, version });
      await cache.fillLiked("3", video, false); // a reader that read the database before the commit
      assert.equal(await cache.likedBy("3", video), true);
      await cache.fillLiked("4", video, false);
      assert.equal(await cache.likedBy("4", video), false);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: inspect and a repair that lands only if the target did not change meanwhile`, async () => {
    const { cache, close } = await open();
    try {
      await cache.fillCounts([video], reader({ "video:42": 9 }).read);
      await cache.fillLiked("5", video, true);
      const seen = await cache.inspect(video);
      assert.equal(seen.count, 9);
      assert.deepEqual([...seen.states], [["5", true]]);
      const repaired = await cache.repair(video, seen.version, {
        count: 4,
        states: new Map([["5", null], ["6", true]]),
      });
      assert.equal(repaired, true);
      assert.equal(await cache.count(video), 4);
      assert.equal(await cache.likedBy("5", video), undefined);
      assert.equal(await cache.likedBy("6", video), true);

      const before = await cache.inspect(video);
      const version = await cache.beginChange(video);
      await cache.commitChange({ userId: "9", target: video, liked: true, delta: 1, version });
      assert.equal(
        await cache.repair(video, before.version, { count: 100 }),
        false,
        "changed meanwhile: refused",
      );
      assert.notEqual(await cache.count(video), 100);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: stats count hits and misses`, async () => {
    const { cache, close } = await open();
    try {
      const before = await cache.stats();
      await cache.count(video); // miss
      await cache.fillCounts([video], reader({ "video:42": 1 }).read);
      await cache.count(video); // hit
      const after = await cache.stats();
      assert.equal(after.misses - before.misses, 1);
      assert.equal(after.hits - before.hits, 1);
      assert.ok(after.hitRatio > 0 && after.hitRatio <= 1);
      assert.ok((after.keys.targets ?? 0) >= 1);
    } finally {
      await close();
    }
  });
}

/** Registers the lock contract for one adapter. */
export function lockContract(
  name: string,
  open: () => Promise<{ lock: DistributedLock; close(): Promise<void> }>,
) {
  Deno.test(`${name}: one holder at a time, released after the work, expired after its ttl`, async () => {
    const { lock, close } = await open();
    try {
      let inner: unknown;
      const outer = await lock.tryWithLock("job", 5_000, async () => {
        inner = await lock.tryWithLock("job", 5_000, () => Promise.resolve("second"));
        return "first";
      });
      assert.deepEqual(outer, { acquired: true, value: "first" });
      assert.deepEqual(inner, { acquired: false });
      assert.deepEqual(await lock.tryWithLock("job", 5_000, () => Promise.resolve(1)), {
        acquired: true,
        value: 1,
      });
      assert.deepEqual(await lock.tryWithLock("other", 5_000, () => Promise.resolve(2)), {
        acquired: true,
        value: 2,
      });

      let afterExpiry: unknown;
      await lock.tryWithLock("slow", 50, async () => {
        await new Promise((r) => setTimeout(r, 120));
        afterExpiry = await lock.tryWithLock("slow", 5_000, () => Promise.resolve("taken over"));
      });
      assert.deepEqual(
        afterExpiry,
        { acquired: true, value: "taken over" },
        "a holder that outlives its ttl loses it",
      );
    } finally {
      await close();
    }
  });
}
