/** Contract of the like cache (Redis and in-memory) and of the distributed lock. */
import assert from "node:assert/strict";
import type { LikeCache } from "../../application/interaction/ports.ts";
import type { DistributedLock } from "../../application/ports.ts";

const video = { type: "video" as const, id: "42" };

/** Registers the like-cache contract for one adapter. */
export function likeCacheContract(
  name: string,
  open: () => Promise<{ cache: LikeCache; close(): Promise<void> }>,
) {
  Deno.test(`${name}: a miss is undefined, never a guess`, async () => {
    const { cache, close } = await open();
    try {
      assert.equal(await cache.likedBy("1", video), undefined);
      assert.equal(await cache.count(video), undefined);
      await cache.setLiked("1", video, true, 1);
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

  Deno.test(`${name}: a cached count follows deltas and authoritative counts`, async () => {
    const { cache, close } = await open();
    try {
      await cache.setCounts([{ target: video, count: 10 }, {
        target: { type: "comment", id: "42" },
        count: 3,
      }]);
      await cache.setLiked("2", video, true, 1);
      assert.equal(await cache.count(video), 11);
      await cache.setLiked("2", video, false, -1);
      assert.equal(await cache.count(video), 10);
      assert.equal(await cache.likedBy("2", video), false);
      await cache.setLiked("3", video, true);
      assert.equal(await cache.count(video), 10, "no delta, no change");
      assert.equal(await cache.count({ type: "comment", id: "42" }), 3, "targets are kept apart");
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
