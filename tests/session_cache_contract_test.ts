import assert from "node:assert/strict";
import { MemorySessionCache } from "../adapters/memory/usercenter/session_cache.ts";
import { RedisSessionCache } from "../adapters/redis/usercenter/session_cache.ts";
import { testRedis } from "./helpers.ts";
import { sessionCacheContract } from "./contracts/session_cache_contract.ts";

// Redis cannot be told the time: the ttl is the shortest it keeps (1 s) and the test waits it out. Redis
// expires a key at the millisecond, so 200 ms past it is a miss on any machine.
sessionCacheContract("Redis", () => {
  const redis = testRedis();
  return Promise.resolve({
    cache: new RedisSessionCache(redis.prefixed, { ttlSeconds: 1 }),
    ttlSeconds: 1,
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    close: () => redis[Symbol.asyncDispose](),
  });
});

sessionCacheContract("memory", () => {
  let now = new Date("2024-05-01T12:00:00.000Z").getTime();
  return Promise.resolve({
    cache: new MemorySessionCache({ clock: { now: () => new Date(now) }, ttlSeconds: 30 }),
    ttlSeconds: 30,
    elapse: (ms) => {
      now += ms;
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
});

const active = { status: "active", role: "user", tokenVersion: 3 } as const;

Deno.test("memory: an entry lives exactly its ttl", async () => {
  let now = 1_000_000;
  const cache = new MemorySessionCache({ clock: { now: () => new Date(now) }, ttlSeconds: 30 });
  await cache.set("7", active);
  now += 29_999;
  assert.deepEqual(await cache.get("7"), active);
  now += 1;
  assert.equal(await cache.get("7"), undefined);
});

Deno.test("Redis: the entry is stored under user:session:<id> with the ttl it was given", async () => {
  await using redis = testRedis();
  const cache = new RedisSessionCache(redis.prefixed, { ttlSeconds: 30 });
  await cache.set("7", active);
  const ttl = await redis.redis.pttl(`${redis.prefix}user:session:7`);
  assert.ok(ttl > 25_000 && ttl <= 30_000, `pttl ${ttl}`);
});

Deno.test("Redis: a stored value that is not an entry reads as a miss", async () => {
  await using redis = testRedis();
  const cache = new RedisSessionCache(redis.prefixed, { ttlSeconds: 30 });
  for (
    const raw of [
      "",
      "garbage",
      "active",
      "active|user",
      "active|root|1",
      "gone|user|1",
      "active|user|x",
      "active|user|1.5",
      "active|user|",
      "active|user| ",
      "active|user|-1",
      "active|user|1|extra",
      "active|user|0x10",
      "active|user|1e3",
      "user|active|1",
      '{"status":"active","role":"user","tokenVersion":1}',
    ]
  ) {
    await redis.redis.set(`${redis.prefix}user:session:7`, raw);
    assert.equal(await cache.get("7"), undefined, JSON.stringify(raw));
  }
});
