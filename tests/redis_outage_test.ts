/**
 * Redis is a cache, never the only copy: with it unreachable likes still commit and reads fall back to the
 * database; when it returns with stale entries, a consistency round makes it equal the database again.
 * Redis here is a server of the test's own (`redis-server` on a free port), reached through a proxy the test
 * closes and reopens, so the server keeps its (now stale) data across the outage.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createApp } from "../adapters/http/app.ts";
import { likeConsumerFor, relayFor, testModules } from "./fixtures.ts";
import { authenticatorOf, routesOf } from "../bin/runtime.ts";
import { eventually, freePort, tcpProxy, testDatabase, testLogger, testTopics } from "./helpers.ts";
import { signedIn } from "./users.ts";

Deno.test("likes during a Redis outage commit; afterwards a consistency round makes Redis equal the database", async () => {
  // given a redis-server of this test's own, reached through a proxy
  const serverPort = freePort();
  const server = new Deno.Command("redis-server", {
    args: ["--port", String(serverPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const proxyPort = freePort();
  const proxy = tcpProxy(proxyPort, serverPort);
  const redis = new Redis({
    host: "127.0.0.1",
    port: proxyPort,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    retryStrategy: () => 100,
    lazyConnect: true,
  });
  redis.on("error", () => {});
  await using db = await testDatabase();
  const [topic] = await testTopics(2, "interaction-events");
  try {
    const direct = new Redis({
      port: serverPort,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    direct.on("error", () => {});
    await eventually(() => direct.ping().catch(() => ""), (pong) => pong === "PONG", {
      what: "redis-server up",
    });
    direct.disconnect();
    proxy.open();
    await redis.connect();
    const { built, metrics, config } = testModules(db, topic, redis, { CONSISTENCY_HOT_TARGETS: "10" });
    const app = createApp({
      routes: routesOf(built),
      authenticator: authenticatorOf(built, config),
      logger: testLogger,
      metrics,
    });
    await using _relay = await relayFor(db);
    await using _consumer = await likeConsumerFor(db, topic, { prefixed: redis });
    // Accounts 1..8; their sessions are cached in the same Redis, so the outage also hits sign-in checks.
    const users = await signedIn(db, [1, 2, 3, 4, 5, 6, 7, 8]);
    const like = async (user: number, method = "POST") =>
      (await app.request("/videos/1/likes", { method, headers: users.get(String(user)) })).status;
    const status = async (user: number) =>
      await (await app.request("/videos/1/likes", { headers: users.get(String(user)) })).json();

    // and five likes, read once so that the count and the states are cached
    for (let user = 1; user <= 5; user++) assert.equal(await like(user), 200);
    assert.deepEqual(await status(1), { count: 5, liked: true });

    // when Redis becomes unreachable, users 6..8 like and user 1 unlikes
    proxy.close();
    for (let user = 6; user <= 8; user++) assert.equal(await like(user), 200, "a like commits without Redis");
    assert.equal(await like(1, "DELETE"), 200);

    // then reads fall back to the database and are right
    assert.deepEqual(await status(1), { count: 7, liked: false });

    // when Redis returns, it still holds the stale entries
    proxy.open();
    await eventually(() => redis.ping().catch(() => ""), (pong) => pong === "PONG", { what: "Redis back" });
    assert.equal(await redis.hget("like:target:video:1", "count"), "5", "stale count from before the outage");
    assert.equal(await redis.hget("like:users:video:1", "1"), "1", "stale state: user 1 still likes");

    // and once the projection has seen the target, one consistency round repairs it
    await eventually(
      async () =>
        (await db.query<{ n: string }>("select count::text as n from like_counts where target_id = 1"))[0]?.n,
      (n) => n === "7",
      { what: "the projection to count 7" },
    );
    const consistency = built.flatMap(({ parts }) => parts.jobs ?? []).find((job) =>
      job.name === "consistency-check"
    );
    assert.ok(consistency, "the interaction module registers its consistency job");
    await consistency.run();

    // then Redis equals the database
    assert.equal(await redis.hget("like:target:video:1", "count"), "7");
    assert.equal(await redis.hget("like:users:video:1", "1"), "0");
    assert.deepEqual(await status(1), { count: 7, liked: false });
    assert.deepEqual(await status(6), { count: 7, liked: true });
    const findings = await db.query<{ kind: string; action: string }>(
      "select kind, action from like_consistency_findings order by kind",
    );
    assert.deepEqual(findings.map((f) => `${f.kind}:${f.action}`), [
      "count_mismatch:fixed",
      "state_extra:fixed",
    ]);
  } finally {
    redis.disconnect();
    proxy.close();
    server.kill("SIGTERM");
    await server.status;
  }
});
