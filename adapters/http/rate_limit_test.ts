import assert from "node:assert/strict";
import { Hono } from "hono";
import { Redis } from "ioredis";
import type { LogFields, Logger } from "../../application/ports.ts";
import { type Authenticator, identify } from "./identity.ts";
import { type RateDecision, rateLimit, type RateLimiter, userRateLimiter } from "./rate_limit.ts";

const redisUrl = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";

/** A logger keeping what it was told, for tests that check warnings. */
function recordingLogger() {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const record = (level: string) => (message: string, fields?: LogFields) =>
    lines.push({ level, message, fields });
  const logger: Logger = {
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
  };
  return { logger, lines };
}

/** Users for these tests: `Authorization: Bearer user-<id>` is user <id> (tokens are the user center's job). */
const testUsers: Authenticator = {
  authenticate(c) {
    const userId = /^Bearer user-(\d+)$/.exec(c.req.header("authorization") ?? "")?.[1];
    return Promise.resolve(userId === undefined ? undefined : { userId, role: "user" });
  },
};

/** A tiny app behind identity and the middleware: every request that reaches a handler moves the counter. */
function counterApp(limiter: RateLimiter, options: Partial<Parameters<typeof rateLimit>[0]> = {}) {
  const reached = { count: 0 };
  const { logger, lines } = recordingLogger();
  const app = new Hono();
  app.use(identify(testUsers));
  app.use(rateLimit({ limiter, logger, ...options }));
  app.on(["GET", "POST", "PUT", "PATCH", "DELETE"], "/counter", (c) => c.json({ count: ++reached.count }));
  const send = async (method: string, user?: string, headers: Record<string, string> = {}) =>
    await app.request("/counter", {
      method,
      headers: user ? { authorization: `Bearer user-${user}`, ...headers } : headers,
    });
  return { send, reached, lines };
}

/** A Redis-backed limiter under a key prefix of the test's own, once Redis is ready; disposing deletes its keys. */
async function redisLimiter(points: number, durationSeconds: number) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  await redis.ping();
  const keyPrefix = `test:${crypto.randomUUID()}:rate`;
  return {
    limiter: userRateLimiter({ redis, points, durationSeconds, keyPrefix }),
    redis,
    keyPrefix,
    async [Symbol.asyncDispose]() {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** A limiter for one test, and how to clean up after it. */
type Backend = AsyncDisposable & { limiter: RateLimiter };

const backends: [string, (points: number, durationSeconds: number) => Promise<Backend>][] = [
  ["memory", (points, durationSeconds) =>
    Promise.resolve({
      limiter: userRateLimiter({ points, durationSeconds, keyPrefix: "writes" }),
      async [Symbol.asyncDispose]() {},
    })],
  ["Redis", redisLimiter],
];

for (const [name, limiterOf] of backends) {
  Deno.test(`${name}: N writes pass, the N+1st gets a 429 problem with Retry-After and reaches no handler`, async () => {
    await using backend = await limiterOf(3, 60);
    const { send, reached } = counterApp(backend.limiter);

    for (let i = 1; i <= 3; i++) assert.equal((await send("POST", "7")).status, 200, `write ${i}`);
    const refused = await send("POST", "7");

    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("content-type"), "application/problem+json");
    const retryAfter = refused.headers.get("retry-after") ?? "";
    assert.match(retryAfter, /^\d+$/);
    assert.ok(Number(retryAfter) > 50 && Number(retryAfter) <= 60, `Retry-After ${retryAfter}`);
    const body = await refused.json();
    assert.equal(body.type, "urn:problem:rate-limited");
    assert.equal(body.status, 429);
    assert.equal(typeof body.title, "string");
    assert.match(body.detail, new RegExp(`retry in ${retryAfter} s`));
    assert.equal(reached.count, 3);
  });

  Deno.test(`${name}: each user has a budget of their own`, async () => {
    await using backend = await limiterOf(2, 60);
    const { send, reached } = counterApp(backend.limiter);

    for (let i = 0; i < 2; i++) assert.equal((await send("POST", "7")).status, 200);
    assert.equal((await send("DELETE", "7")).status, 429);

    for (let i = 0; i < 2; i++) assert.equal((await send("DELETE", "8")).status, 200);
    assert.equal((await send("POST", "8")).status, 429);
    assert.equal(reached.count, 4);
  });

  Deno.test(`${name}: reads are not limited and do not spend the budget`, async () => {
    await using backend = await limiterOf(2, 60);
    const { send, reached } = counterApp(backend.limiter);

    for (let i = 0; i < 5; i++) assert.equal((await send("GET", "7")).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await send("PUT", "7")).status, 200);
    assert.equal((await send("PATCH", "7")).status, 429);
    assert.equal(reached.count, 7);
  });
}

Deno.test("Redis: the budget lives under the limiter's key prefix, shared by every process", async () => {
  await using backend = await redisLimiter(2, 60);
  // Two API processes: two apps over two limiters on the same Redis and prefix.
  const other = userRateLimiter({
    redis: backend.redis,
    points: 2,
    durationSeconds: 60,
    keyPrefix: backend.keyPrefix,
  });
  const first = counterApp(backend.limiter);
  const second = counterApp(other);

  assert.equal((await first.send("POST", "7")).status, 200);
  assert.equal((await second.send("POST", "7")).status, 200);
  assert.equal((await first.send("POST", "7")).status, 429);
  assert.equal((await second.send("POST", "7")).status, 429);
  assert.deepEqual(await backend.redis.keys(`${backend.keyPrefix}*`), [`${backend.keyPrefix}:7`]);
});

Deno.test("a window ends: the budget comes back", async () => {
  const { send, reached } = counterApp(userRateLimiter({ points: 1, durationSeconds: 1, keyPrefix: "w" }));

  assert.equal((await send("POST", "7")).status, 200);
  const refused = await send("POST", "7");
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "1");
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await send("POST", "7")).status, 200);
  assert.equal(reached.count, 2);
});

Deno.test("anonymous writes are not limited here (their route answers 401)", async () => {
  const { send, reached } = counterApp(userRateLimiter({ points: 1, durationSeconds: 60, keyPrefix: "w" }));

  for (let i = 0; i < 3; i++) assert.equal((await send("POST")).status, 200);
  assert.equal(reached.count, 3);
});

Deno.test("options: a key function of your own and the methods limited", async () => {
  const { send, reached } = counterApp(userRateLimiter({ points: 1, durationSeconds: 60, keyPrefix: "w" }), {
    key: (c) => c.req.header("x-api-key"),
    methods: ["post"],
  });

  assert.equal((await send("POST", "7", { "x-api-key": "a" })).status, 200);
  assert.equal((await send("POST", "8", { "x-api-key": "a" })).status, 429, "same key, another user");
  assert.equal((await send("POST", "7", { "x-api-key": "b" })).status, 200);
  assert.equal((await send("DELETE", "7", { "x-api-key": "a" })).status, 200, "DELETE not in methods");
  assert.equal(reached.count, 3);
});

Deno.test("Redis unreachable: writes go through, with one warning per outage", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const redis = new Redis({
    host: "127.0.0.1",
    port,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => 200,
  });
  redis.on("error", () => {});
  try {
    const limiter = userRateLimiter({ redis, points: 1, durationSeconds: 60, keyPrefix: "unreachable" });
    const { send, reached, lines } = counterApp(limiter);

    for (let i = 0; i < 3; i++) assert.equal((await send("POST", "7")).status, 200);

    assert.equal(reached.count, 3);
    const warnings = lines.filter((line) => line.level === "warn");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].message, /rate limiting unavailable/);
  } finally {
    redis.disconnect();
  }
});

Deno.test("Redis down with the deployment's client (offline queue, slow reconnects): no wait for the timeout", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  // As bin/infrastructure.ts openRedis: commands would queue until a reconnect attempt fails.
  const redis = new Redis({
    host: "127.0.0.1",
    port,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: () => 5_000,
  });
  redis.on("error", () => {});
  try {
    const limiter = userRateLimiter({
      redis,
      points: 1,
      durationSeconds: 60,
      keyPrefix: "down",
      timeoutMs: 10_000,
    });
    const { send, reached } = counterApp(limiter);

    const started = performance.now();
    assert.equal((await send("POST", "7")).status, 200);
    assert.ok(
      performance.now() - started < 1_000,
      `answered in ${Math.round(performance.now() - started)} ms`,
    );
    assert.equal(reached.count, 1);
  } finally {
    redis.disconnect();
  }
});

Deno.test("Redis that does not answer: writes go through after the timeout", async () => {
  // A server that accepts connections and never replies: ioredis calls it ready without its ready check and
  // client info, so commands are sent and hang.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const redis = new Redis({
    host: "127.0.0.1",
    port: listener.addr.port,
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: 1,
  });
  redis.on("error", () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise((resolve) => redis.once("ready", resolve));
    const limiter = userRateLimiter({
      redis,
      points: 1,
      durationSeconds: 60,
      keyPrefix: "hung",
      timeoutMs: 100,
    });
    const { send, reached } = counterApp(limiter);

    const answered = await Promise.race([
      send("POST", "7").then((response) => response.status),
      new Promise((resolve) => timer = setTimeout(() => resolve("no answer within 2 s"), 2000)),
    ]);

    assert.equal(answered, 200);
    assert.equal(reached.count, 1);
  } finally {
    clearTimeout(timer);
    redis.disconnect();
    listener.close();
    await accepting.catch(() => {});
    for (const conn of conns) conn.close();
  }
});

Deno.test("the limiter coming back after an outage is logged, and the next outage warned again", async () => {
  let down = true;
  const limiter: RateLimiter = {
    consume(): Promise<RateDecision> {
      return down ? Promise.reject(new Error("backend down")) : Promise.resolve({ allowed: true });
    },
  };
  const { send, reached, lines } = counterApp(limiter);

  await send("POST", "7");
  await send("POST", "7");
  down = false;
  await send("POST", "7");
  down = true;
  await send("POST", "7");

  assert.equal(reached.count, 4);
  assert.deepEqual(lines.map((line) => `${line.level} ${line.message}`), [
    "warn rate limiting unavailable, letting writes through",
    "info rate limiting restored",
    "warn rate limiting unavailable, letting writes through",
  ]);
});

Deno.test("userRateLimiter refuses a budget or window that is not a positive integer", () => {
  assert.throws(() => userRateLimiter({ points: 0, durationSeconds: 60, keyPrefix: "w" }), /points/);
  assert.throws(
    () => userRateLimiter({ points: 5, durationSeconds: 0.5, keyPrefix: "w" }),
    /durationSeconds/,
  );
});
