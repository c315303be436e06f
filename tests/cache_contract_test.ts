import { MemoryLikeCache } from "../adapters/memory/interaction/like_cache.ts";
import { MemoryLock } from "../adapters/memory/lock.ts";
import { RedisLikeCache } from "../adapters/redis/interaction/like_cache.ts";
import { RedisLock } from "../adapters/redis/lock.ts";
import { testRedis } from "./contracts/adapters.ts";
import { likeCacheContract, lockContract } from "./contracts/cache_contract.ts";

likeCacheContract("Redis", () => {
  const redis = testRedis();
  return Promise.resolve({
    cache: new RedisLikeCache(redis.redis, { prefix: redis.prefix }),
    close: () => redis[Symbol.asyncDispose](),
  });
});
likeCacheContract(
  "memory",
  () => Promise.resolve({ cache: new MemoryLikeCache(), close: () => Promise.resolve() }),
);
lockContract("Redis", () => {
  const redis = testRedis();
  return Promise.resolve({
    lock: new RedisLock(redis.redis, { prefix: redis.prefix }),
    close: () => redis[Symbol.asyncDispose](),
  });
});
lockContract("memory", () => Promise.resolve({ lock: new MemoryLock(), close: () => Promise.resolve() }));
