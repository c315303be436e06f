import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { FlexibleLoginThrottle } from "../adapters/redis/usercenter/login_throttle.ts";
import type { Logger } from "../application/ports.ts";
import { testLogger, testRedis, uniqueId } from "./helpers.ts";
import { budgets, loginThrottleContract } from "./contracts/login_throttle_contract.ts";

loginThrottleContract("Redis", async () => {
  const redis = testRedis();
  // The throttle lets attempts through until the client is ready (see the unreachable case below): connect first.
  await redis.prefixed.ping();
  return {
    throttle: new FlexibleLoginThrottle({
      redis: redis.prefixed,
      budgets,
      keyPrefix: `rate:login:${uniqueId()}`,
      logger: testLogger,
    }),
    close: () => redis[Symbol.asyncDispose](),
  };
});

loginThrottleContract("memory", () =>
  Promise.resolve({
    throttle: new FlexibleLoginThrottle({ budgets, keyPrefix: "rate:login", logger: testLogger }),
    close: () => Promise.resolve(),
  }));

Deno.test("Redis: while Redis is unreachable, attempts go through and the outage is warned once", async () => {
  // given a client of a port nothing listens on, that fails a command at once instead of queueing it
  const unreachable = new Redis({
    host: "127.0.0.1",
    port: 1,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  const warnings: string[] = [];
  const logger: Logger = { ...testLogger, warn: (message) => warnings.push(message) };
  const throttle = new FlexibleLoginThrottle({
    redis: unreachable,
    budgets,
    keyPrefix: `rate:login:${uniqueId()}`,
    logger,
  });
  try {
    // when an account fails more often than its budget allows, then nothing blocks and nothing throws
    const keys = ["account:x", "address:203.0.113.7"];
    for (let i = 0; i < budgets.account.failures + 1; i++) {
      assert.equal(await throttle.take(keys), 0);
    }
    await throttle.refund("address:203.0.113.7");
    await throttle.reset("account:x");
    assert.deepEqual(warnings, ["login throttling unavailable, letting attempts through"]);
  } finally {
    unreachable.disconnect();
  }
});

Deno.test("an unknown key kind is a programming error, not a pass", async () => {
  const throttle = new FlexibleLoginThrottle({ budgets, keyPrefix: "rate:login", logger: testLogger });
  await assert.rejects(() => throttle.reset("device:x"), /no throttle budget for "device"/);
});
