/**
 * The like cache's consistency check (seed 004): likes written through the like routes, the cache corrupted on
 * purpose, rounds that find and repair it (or only log it), the record and the report; on PostgreSQL with Redis,
 * and on PGlite with the memory cache (the embedded mode).
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { createApp } from "../adapters/http/app.ts";
import { type Authenticator, bearerAuthenticator } from "../adapters/http/identity.ts";
import { consistencyRoutes } from "../adapters/http/interaction/consistency_routes.ts";
import { likeRoutes } from "../adapters/http/interaction/like_routes.ts";
import { JwtTokens } from "../adapters/jwt/tokens.ts";
import { MemoryLikeCache } from "../adapters/memory/interaction/like_cache.ts";
import { MemorySessionCache } from "../adapters/memory/usercenter/session_cache.ts";
import { PostgresConsistencyStore } from "../adapters/postgres/interaction/consistency_store.ts";
import { PostgresLikeStore } from "../adapters/postgres/interaction/like_store.ts";
import {
  interactionUnitOfWork,
  likeProjectionUnitOfWork,
} from "../adapters/postgres/interaction/unit_of_work.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { PostgresUserStore } from "../adapters/postgres/usercenter/user_store.ts";
import { RedisLikeCache } from "../adapters/redis/interaction/like_cache.ts";
import { RedisLock } from "../adapters/redis/lock.ts";
import { type ConsistencySettings, LikeConsistencyChecker } from "../application/interaction/consistency.ts";
import type { LikeCacheInspection, LikeQueries } from "../application/interaction/ports.ts";
import { type Clock, systemClock } from "../application/ports.ts";
import { authenticate } from "../application/usercenter/authenticate.ts";
import type { LikeTarget } from "../domain/interaction/like.ts";
import { openEmbedded, openPostgres } from "./contracts/adapters.ts";
import { likesApi } from "./fixtures.ts";
import { testDatabase, testLogger } from "./helpers.ts";
import { as, testJwtSecret } from "./users.ts";

/** `Authorization` headers of a signed-in user. */
type UserHeaders = { authorization: string };

const video42: LikeTarget = { type: "video", id: "42" };
const comment7: LikeTarget = { type: "comment", id: "7" };
const video43: LikeTarget = { type: "video", id: "43" };

/** The database reads the checker makes. */
type CheckerQueries = Pick<LikeQueries, "countLikes" | "likedAmong" | "topCounts">;

/** The checker over a database and a cache, as the module builds it. */
function checkerOver(
  db: SqlDatabase,
  cache: LikeCacheInspection,
  options: { settings?: Partial<ConsistencySettings>; clock?: Clock; queries?: CheckerQueries } = {},
) {
  const store = new PostgresConsistencyStore(db);
  return new LikeConsistencyChecker({
    cache,
    queries: options.queries ?? new PostgresLikeStore(db),
    changed: store,
    log: store,
    clock: options.clock ?? systemClock,
    logger: testLogger,
  }, options.settings);
}

/** The consistency routes as the module mounts them, without the admin check (a test below covers it). */
function consistencyApi(checker: LikeConsistencyChecker): Hono {
  return createApp({
    routes: [{ path: "/consistency", app: consistencyRoutes({ checker }) }],
    logger: testLogger,
  });
}

/** Access tokens checked as the user center checks them, over this database (sessions cached in memory). */
function tokenAuthenticator(db: SqlDatabase): Authenticator {
  const deps = {
    tokens: new JwtTokens({ secret: testJwtSecret, ttlSeconds: 3600, clock: systemClock }),
    sessions: new MemorySessionCache({ clock: systemClock, ttlSeconds: 30 }),
    users: new PostgresUserStore(db),
    logger: testLogger,
  };
  return bearerAuthenticator({ verify: (token) => authenticate(deps, token) });
}

/** The like routes over the memory cache, as the embedded mode builds them. */
function memoryLikesApi(db: SqlDatabase, cache: MemoryLikeCache): Hono {
  const queries = new PostgresLikeStore(db);
  const routes = likeRoutes({
    unitOfWork: interactionUnitOfWork(db),
    queries,
    cache,
    clock: systemClock,
    logger: testLogger,
    topic: "interaction-events",
  });
  return createApp({
    routes: [{ path: "/", app: routes }],
    authenticator: tokenAuthenticator(db),
    logger: testLogger,
  });
}

async function like(app: Hono, target: LikeTarget, user: UserHeaders): Promise<void> {
  const response = await app.request(`/${target.type}s/${target.id}/likes`, {
    method: "POST",
    headers: user,
  });
  assert.equal(response.status, 200, await response.text());
}

/** `GET .../likes`: also fills the cached count on a miss. */
async function likeStatus(app: Hono, target: LikeTarget, user?: UserHeaders) {
  const response = await app.request(`/${target.type}s/${target.id}/likes`, {
    headers: user ?? {},
  });
  assert.equal(response.status, 200);
  return await response.json();
}

/** The projection as the consumer leaves it (no relay nor consumer runs here): it names the hot targets. */
async function project(db: SqlDatabase, counts: readonly (readonly [LikeTarget, number])[]): Promise<void> {
  await likeProjectionUnitOfWork(db).inTransaction((tx) =>
    tx.likeCounts.apply(counts.map(([target, delta]) => ({ target, delta })))
  );
}

/** Video 42 liked by users 1, 2, 3 with its count cached, then corrupted in Redis: 10, user 2 not liked, user 9 liked. */
async function corruptVideo42(db: SqlDatabase, api: ReturnType<typeof likesApi>): Promise<void> {
  for (const user of ["1", "2", "3"]) await like(api.app, video42, await as(db, user));
  assert.deepEqual(await likeStatus(api.app, video42), { count: 3, liked: false });
  await project(db, [[video42, 3]]);
  const redis = api.redisHandle.prefixed;
  await redis.hset("like:target:video:42", "count", "10");
  await redis.hset("like:users:video:42", "2", "0");
  await redis.hset("like:users:video:42", "9", "1");
}

/** The recorded findings, as plain objects. */
async function findingRows(db: SqlDatabase) {
  const rows = await db.query<
    { target: string; kind: string; user_id: string | null; cache: string; db: string; action: string }
  >(
    `select target_type || ':' || target_id as target, kind, user_id, cache_value::text as cache,
            database_value::text as db, action
     from like_consistency_findings order by target, kind, user_id`,
  );
  return rows.map((row) => ({ ...row }));
}

Deno.test("PostgreSQL + Redis: one round finds a wrong count, a missing and an extra member, repairs them from the database and reports them by kind", async () => {
  await using db = await testDatabase();
  await using api = likesApi(db, "interaction-events");
  await corruptVideo42(db, api);
  // comment 7 changed lately, video 43 neither lately nor hot: each with a wrong count
  for (const target of [comment7, video43]) {
    await like(api.app, target, await as(db, 1));
    await likeStatus(api.app, target);
  }
  // comment 8 changed lately too, but nothing of it is cached: picked, not compared
  await project(db, [[comment7, 1], [video43, 1], [{ type: "comment", id: "8" }, 1]]);
  await db.query("update like_counts set updated_at = now() - interval '1 hour' where target_type = 'video'");
  const redis = api.redisHandle.prefixed;
  await redis.hset("like:target:comment:7", "count", "5");
  await redis.hset("like:target:video:43", "count", "7");

  const checker = checkerOver(db, new RedisLikeCache(redis), { settings: { hotTargets: 1 } });
  const round = await checker.runRound({ trigger: "scheduled" });

  assert.deepEqual(
    {
      targets: round.targets,
      items: round.items,
      found: round.found,
      fixed: round.fixed,
      logged: round.logged,
    },
    { targets: 3, items: 2, found: 4, fixed: 4, logged: 0 },
  );
  assert.deepEqual(await likeStatus(api.app, video42, await as(db, 2)), { count: 3, liked: true });
  assert.deepEqual(await likeStatus(api.app, video42, await as(db, 9)), { count: 3, liked: false });
  assert.equal(await redis.hget("like:target:comment:7", "count"), "1", "recently changed: checked");
  assert.equal(await redis.hget("like:target:video:43", "count"), "7", "neither hot nor recent: not checked");
  assert.deepEqual(await findingRows(db), [
    { target: "comment:7", kind: "count_mismatch", user_id: null, cache: "5", db: "1", action: "fixed" },
    { target: "video:42", kind: "count_mismatch", user_id: null, cache: "10", db: "3", action: "fixed" },
    { target: "video:42", kind: "state_extra", user_id: "9", cache: "true", db: "false", action: "fixed" },
    { target: "video:42", kind: "state_missing", user_id: "2", cache: "false", db: "true", action: "fixed" },
  ]);

  const response = await consistencyApi(checker).request("/consistency/report?hours=24");
  assert.equal(response.status, 200);
  const report = await response.json();
  assert.deepEqual(
    {
      rounds: report.rounds,
      items: report.items,
      found: report.found,
      fixed: report.fixed,
      hours: report.hours,
    },
    { rounds: 1, items: 2, found: 4, fixed: 4, hours: 24 },
  );
  assert.deepEqual(report.byKind, {
    count_mismatch: { fixed: 2, logged: 0, skipped_changed: 0 },
    state_missing: { fixed: 1, logged: 0, skipped_changed: 0 },
    state_extra: { fixed: 1, logged: 0, skipped_changed: 0 },
  });

  const again = await checker.runRound({ trigger: "scheduled" });
  assert.equal(again.found, 0, "a repaired cache is consistent");
});

Deno.test("the consistency routes admit administrators only: an admin's token or the operator token; a user's token gets 403, none 401", async () => {
  await using db = await testDatabase();
  const operatorToken = "operator-token-of-this-test";
  await using api = likesApi(db, "interaction-events", { OPERATOR_TOKEN: operatorToken });
  const admin = await as(db, 99, { role: "admin" });
  const user = await as(db, 7);
  const callers: [string, Record<string, string>, number, string?][] = [
    ["an admin's token", admin, 200],
    ["the operator token", { authorization: `Bearer ${operatorToken}` }, 200],
    ["a user's token", user, 403, "urn:problem:forbidden"],
    ["no credentials", {}, 401, "urn:problem:unauthenticated"],
    ["X-User-Id of the admin, no token", { "x-user-id": "99" }, 401, "urn:problem:unauthenticated"],
  ];
  for (const [who, headers, status, type] of callers) {
    const report = await api.app.request("/consistency/report?hours=1", { headers });
    assert.equal(report.status, status, `GET /consistency/report, ${who}`);
    const check = await api.app.request("/consistency/check", {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ resource_type: "video", resource_id: 1 }),
    });
    assert.equal(check.status, status, `POST /consistency/check, ${who}`);
    if (type) {
      assert.equal((await report.json()).type, type, who);
      assert.equal((await check.json()).type, type, who);
    } else {
      assert.equal((await report.json()).hours, 1);
      assert.deepEqual((await check.json()).target, { type: "video", id: "1" });
    }
  }
  const [rounds] = await db.query<{ n: number }>("select count(*)::int as n from like_consistency_rounds");
  assert.equal(rounds.n, 2, "one check round per administrator; the refused callers ran none");
});

Deno.test("PostgreSQL + Redis: with auto-fix off a round only records what it finds and leaves the cache alone", async () => {
  await using db = await testDatabase();
  await using api = likesApi(db, "interaction-events");
  await corruptVideo42(db, api);
  const redis = api.redisHandle.prefixed;

  const checker = checkerOver(db, new RedisLikeCache(redis), { settings: { autoFix: false } });
  const round = await checker.runRound({ trigger: "scheduled" });

  assert.deepEqual({ found: round.found, fixed: round.fixed, logged: round.logged }, {
    found: 3,
    fixed: 0,
    logged: 3,
  });
  assert.equal(await redis.hget("like:target:video:42", "count"), "10");
  assert.deepEqual(await redis.hgetall("like:users:video:42"), { "1": "1", "2": "0", "3": "1", "9": "1" });
  assert.deepEqual((await findingRows(db)).map((row) => [row.kind, row.action]), [
    ["count_mismatch", "logged"],
    ["state_extra", "logged"],
    ["state_missing", "logged"],
  ]);
  const report = await checker.report(24);
  assert.deepEqual({ found: report.found, fixed: report.fixed, autoFix: report.autoFix }, {
    found: 3,
    fixed: 0,
    autoFix: false,
  });
  assert.deepEqual(report.byKind.state_extra, { fixed: 0, logged: 1, skipped_changed: 0 });
});

Deno.test("PGlite + memory cache: a target changed between inspection and repair is not overwritten (skipped_changed), and the next round repairs it", async () => {
  await using db = await openEmbedded();
  const cache = new MemoryLikeCache();
  const app = memoryLikesApi(db, cache);
  for (const user of ["1", "2", "3"]) await like(app, video42, await as(db, user));
  await likeStatus(app, video42);
  await project(db, [[video42, 3]]);
  const { version } = await cache.inspect(video42);
  assert.equal(await cache.repair(video42, version, { count: 10, states: new Map([["9", true]]) }), true);

  // user 5 likes video 42 after the check inspected the cache and while it reads the database
  const store = new PostgresLikeStore(db);
  const user5 = await as(db, 5);
  let changeInBetween = true;
  const queries: CheckerQueries = {
    countLikes: (targets) => store.countLikes(targets),
    topCounts: (limit) => store.topCounts(limit),
    likedAmong: async (target, users) => {
      if (changeInBetween) await like(app, video42, user5);
      changeInBetween = false;
      return await store.likedAmong(target, users);
    },
  };
  const checker = checkerOver(db, cache, { queries });
  const round = await checker.runRound({ trigger: "scheduled" });

  assert.deepEqual(
    { found: round.found, fixed: round.fixed, skippedChanged: round.skippedChanged },
    { found: 2, fixed: 0, skippedChanged: 2 },
  );
  const after = await cache.inspect(video42);
  assert.equal(
    after.count,
    11,
    "the like in between was counted on the cached value; the repair wrote nothing",
  );
  assert.equal(after.states.get("9"), true);
  assert.equal(after.states.get("5"), true);
  assert.deepEqual((await findingRows(db)).map((row) => row.action), ["skipped_changed", "skipped_changed"]);
  assert.deepEqual((await checker.report(24)).byKind.count_mismatch, {
    fixed: 0,
    logged: 0,
    skipped_changed: 1,
  });

  const next = await checker.runRound({ trigger: "scheduled" });
  assert.deepEqual({ found: next.found, fixed: next.fixed }, { found: 2, fixed: 2 });
  assert.deepEqual(await likeStatus(app, video42, await as(db, 9)), { count: 4, liked: false });
});

Deno.test("PGlite + memory cache: POST /consistency/check answers the findings, the cache before and after; bad requests get a 400 problem", async () => {
  await using db = await openEmbedded();
  const cache = new MemoryLikeCache();
  const app = memoryLikesApi(db, cache);
  await like(app, comment7, await as(db, 1));
  await like(app, comment7, await as(db, 2));
  await likeStatus(app, comment7);
  const { version } = await cache.inspect(comment7);
  // user 2 cached as not liked; "bob", a field that is no user id, cached as liked
  await cache.repair(comment7, version, { states: new Map([["2", false], ["bob", true]]) });
  const api = consistencyApi(checkerOver(db, cache));

  const response = await api.request("/consistency/check", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ resource_type: "comment", resource_id: 7 }),
  });
  assert.equal(response.status, 200);
  const check = await response.json();
  assert.deepEqual(check.target, comment7);
  assert.deepEqual(
    check.findings.map((f: { kind: string; userId: string; action: string }) => [f.kind, f.userId, f.action])
      .sort(),
    [["state_extra", "bob", "fixed"], ["state_missing", "2", "fixed"]],
  );
  assert.deepEqual(check.before, { count: 2, states: { "2": false, bob: true } });
  assert.deepEqual(check.after, { count: 2, states: { "2": true, bob: false } });
  const report = await (await api.request("/consistency/report")).json();
  assert.deepEqual({ rounds: report.rounds, items: report.items, hours: report.hours }, {
    rounds: 1,
    items: 1,
    hours: 24,
  });

  const bad: [string, RequestInit, string][] = [
    ["/consistency/check", { method: "POST", body: "{oops" }, "urn:problem:malformed-json"],
    [
      "/consistency/check",
      { method: "POST", body: '{"resource_type":"photo","resource_id":1}' },
      "urn:problem:validation",
    ],
    ["/consistency/check", { method: "POST", body: '{"resource_type":"video"}' }, "urn:problem:validation"],
    [
      "/consistency/check",
      { method: "POST", body: '{"resource_type":"video","resource_id":0}' },
      "urn:problem:invalid-id",
    ],
    [
      "/consistency/check",
      { method: "POST", body: '{"resource_type":"video","resource_id":"1x"}' },
      "urn:problem:invalid-id",
    ],
    ["/consistency/report?hours=0", {}, "urn:problem:validation"],
    ["/consistency/report?hours=721", {}, "urn:problem:validation"],
    ["/consistency/report?hours=abc", {}, "urn:problem:validation"],
  ];
  for (const [path, init, type] of bad) {
    const answer = await api.request(path, init);
    assert.equal(answer.status, 400, `${path} ${init.body ?? ""}`);
    assert.equal(answer.headers.get("content-type"), "application/problem+json");
    assert.equal((await answer.json()).type, type, `${path} ${init.body ?? ""}`);
  }
  assert.equal((await (await api.request("/consistency/report?hours=720")).json()).hours, 720);
});

Deno.test("PGlite + memory cache: the report counts only the rounds and findings of the last `hours`, by the injected clock", async () => {
  await using db = await openEmbedded();
  const cache = new MemoryLikeCache();
  const app = memoryLikesApi(db, cache);
  await like(app, video42, await as(db, 1));
  await likeStatus(app, video42);
  await project(db, [[video42, 1]]);
  const { version } = await cache.inspect(video42);
  await cache.repair(video42, version, { count: 4 });
  let now = new Date("2024-05-01T12:00:00.000Z");
  const checker = checkerOver(db, cache, { clock: { now: () => now } });
  await checker.runRound({ trigger: "scheduled" });

  now = new Date("2024-05-02T13:00:00.000Z");
  await checker.runRound({ trigger: "scheduled" });
  const day = await checker.report(24);
  assert.deepEqual({ rounds: day.rounds, items: day.items, found: day.found }, {
    rounds: 1,
    items: 1,
    found: 0,
  });
  const twoDays = await checker.report(48);
  assert.deepEqual({
    rounds: twoDays.rounds,
    items: twoDays.items,
    found: twoDays.found,
    fixed: twoDays.fixed,
  }, {
    rounds: 2,
    items: 2,
    found: 1,
    fixed: 1,
  });
  assert.equal(twoDays.latest[0].foundAt.toISOString(), "2024-05-01T12:00:00.000Z");
});

Deno.test("PostgreSQL + Redis: two rounds started at once under the job's distributed lock: only one runs", async () => {
  await using db = await testDatabase();
  await using api = likesApi(db, "interaction-events");
  await corruptVideo42(db, api);
  const cache = new RedisLikeCache(api.redisHandle.prefixed);
  // A slow inspection keeps the first round running while the second one tries the lock.
  const slow: LikeCacheInspection = {
    inspect: async (target) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return await cache.inspect(target);
    },
    repair: (target, version, values) => cache.repair(target, version, values),
    stats: () => cache.stats(),
  };
  const checker = checkerOver(db, slow);
  const lock = new RedisLock(api.redisHandle.prefixed);
  const job = () =>
    lock.tryWithLock(
      "job:interaction.consistency-check",
      60_000,
      () => checker.runRound({ trigger: "scheduled" }),
    );

  const outcomes = await Promise.all([job(), job()]);

  assert.deepEqual(outcomes.map((outcome) => outcome.acquired).sort(), [false, true]);
  const [rounds] = await db.query<{ n: number }>("select count(*)::int as n from like_consistency_rounds");
  assert.equal(rounds.n, 1);
  assert.equal((await findingRows(db)).length, 3, "each inconsistency recorded once");
});

for (const [name, open] of [["PostgreSQL", openPostgres], ["PGlite", openEmbedded]] as const) {
  Deno.test(`${name}: the consistency store lists recently changed targets and keeps rounds and findings`, async () => {
    await using db = await open();
    const big: LikeTarget = { type: "video", id: "9223372036854775807" };
    await project(db, [[big, 1], [comment7, 1], [video43, 1]]);
    await db.query("update like_counts set updated_at = now() - interval '2 minutes' where target_id = 7");
    await db.query("update like_counts set updated_at = now() - interval '1 hour' where target_id = 43");
    const store = new PostgresConsistencyStore(db);
    assert.deepEqual(
      await store.changedWithin(600_000, 10),
      [big, comment7],
      "most recent first, within the window",
    );
    assert.deepEqual(await store.changedWithin(600_000, 1), [big]);
    assert.deepEqual(await store.changedWithin(60_000, 10), [big]);

    const at = new Date("2024-05-01T12:00:00.000Z");
    const roundId = await store.startRound("manual", at);
    await store.recordFindings(roundId, [
      { target: big, kind: "count_mismatch", cacheValue: 5, databaseValue: 1, action: "fixed", foundAt: at },
      {
        target: big,
        kind: "state_extra",
        userId: "bob",
        cacheValue: true,
        databaseValue: false,
        action: "logged",
        foundAt: at,
      },
    ]);
    await store.startRound("scheduled", at);
    await store.finishRound(roundId, at, { items: 1, found: 2, fixed: 1 });
    const totals = await store.totalsSince(new Date(at.getTime() - 1000), 10);
    assert.deepEqual(
      {
        rounds: totals.rounds,
        unfinished: totals.unfinishedRounds,
        items: totals.items,
        found: totals.found,
      },
      { rounds: 2, unfinished: 1, items: 1, found: 2 },
    );
    assert.equal(totals.fixed, 1);
    assert.deepEqual(
      totals.latest.map((finding) => ({ ...finding, foundAt: finding.foundAt.toISOString() })).sort(
        (a, b) => a.kind.localeCompare(b.kind),
      ),
      [
        {
          roundId,
          target: big,
          kind: "count_mismatch",
          cacheValue: 5,
          databaseValue: 1,
          action: "fixed",
          foundAt: at.toISOString(),
        },
        {
          roundId,
          target: big,
          kind: "state_extra",
          userId: "bob",
          cacheValue: true,
          databaseValue: false,
          action: "logged",
          foundAt: at.toISOString(),
        },
      ],
    );
    assert.equal((await store.totalsSince(new Date(at.getTime() + 1000), 10)).rounds, 0);
  });
}
