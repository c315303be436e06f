import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { isRedisUnavailable } from "./errors.ts";

Deno.test("a command to an unreachable Redis fails with an error classed as an outage; a script error is not", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  const redis = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  redis.on("error", () => {});
  try {
    const error = await redis.get("k").then(() => undefined, (e) => e);
    assert.ok(error instanceof Error, "the command failed");
    assert.equal(isRedisUnavailable(error), true, `${error.name}: ${error.message}`);
  } finally {
    redis.disconnect();
  }
  assert.equal(isRedisUnavailable(new Error("ERR Error running script: bad argument")), false);
  assert.equal(isRedisUnavailable(new TypeError("cannot read properties of undefined")), false);
});
