import assert from "node:assert/strict";
import { testDatabase } from "./helpers.ts";
import { likesApi } from "./fixtures.ts";
import { interactionUnitOfWork } from "../adapters/postgres/interaction/unit_of_work.ts";
import { likeEnvelope } from "../application/interaction/like_event.ts";
import { as, signedIn } from "./users.ts";

async function rowCounts(db: Awaited<ReturnType<typeof testDatabase>>) {
  const [row] = await db.query<{ likes: number; outbox: number }>(
    "select (select count(*)::int from likes) as likes, (select count(*)::int from outbox) as outbox",
  );
  return row;
}

Deno.test("bad like requests get a 4xx problem body and change nothing", async (t) => {
  await using db = await testDatabase();
  await using api = likesApi(db, "interaction-events");
  const user1 = await as(db, 1);
  await as(db, 7); // account 7 exists: the header naming it must still act for nobody
  const cases: { name: string; path: string; init: RequestInit; status: number; type: string }[] = [
    {
      name: "unknown target type",
      path: "/photos/1/likes",
      init: { method: "POST", headers: user1 },
      status: 404,
      type: "urn:problem:not-found",
    },
    {
      name: "singular word: only the documented paths exist",
      path: "/video/1/likes",
      init: { method: "POST", headers: user1 },
      status: 404,
      type: "urn:problem:not-found",
    },
    {
      name: "non-numeric id",
      path: "/videos/abc/likes",
      init: { method: "POST", headers: user1 },
      status: 400,
      type: "urn:problem:invalid-id",
    },
    {
      name: "id beyond 64 bits",
      path: "/videos/99999999999999999999/likes",
      init: { method: "POST", headers: user1 },
      status: 400,
      type: "urn:problem:invalid-id",
    },
    {
      name: "missing user",
      path: "/videos/1/likes",
      init: { method: "POST" },
      status: 401,
      type: "urn:problem:unauthenticated",
    },
    {
      name: "X-User-Id without a token: the header is no identity",
      path: "/videos/1/likes",
      init: { method: "POST", headers: { "x-user-id": "7" } },
      status: 401,
      type: "urn:problem:unauthenticated",
    },
    {
      name: "malformed Authorization header",
      path: "/comments/1/likes",
      init: { method: "DELETE", headers: { authorization: "Bearer not a token" } },
      status: 401,
      type: "urn:problem:unauthenticated",
    },
    {
      name: "bearer token not signed by the service",
      path: "/comments/1/likes",
      init: { method: "DELETE", headers: { authorization: "Bearer bob.bob.bob" } },
      status: 401,
      type: "urn:problem:unauthenticated",
    },
    {
      name: "malformed JSON",
      path: "/likes",
      init: {
        method: "POST",
        headers: { ...user1, "content-type": "application/json" },
        body: "{oops",
      },
      status: 400,
      type: "urn:problem:malformed-json",
    },
    {
      name: "unknown action",
      path: "/likes",
      init: {
        method: "POST",
        headers: { ...user1, "content-type": "application/json" },
        body: JSON.stringify({ targetType: "video", targetId: 1, action: 3 }),
      },
      status: 400,
      type: "urn:problem:validation",
    },
    {
      name: "malformed traceparent",
      path: "/videos/1/likes",
      init: { method: "POST", headers: { ...user1, traceparent: "00-not-a-trace-01" } },
      status: 400,
      type: "urn:problem:invalid-traceparent",
    },
    {
      name: "all-zero trace id",
      path: "/videos/1/likes",
      init: {
        method: "POST",
        headers: { ...user1, traceparent: `00-${"0".repeat(32)}-${"a".repeat(16)}-01` },
      },
      status: 400,
      type: "urn:problem:invalid-traceparent",
    },
    {
      name: "body over the limit",
      path: "/likes",
      init: {
        method: "POST",
        headers: { ...user1, "content-type": "application/json" },
        body: JSON.stringify({ targetType: "video", targetId: 1, action: 1, pad: "x".repeat(70_000) }),
      },
      status: 413,
      type: "urn:problem:body-too-large",
    },
    {
      name: "unknown route",
      path: "/nowhere",
      init: {},
      status: 404,
      type: "urn:problem:not-found",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const response = await api.app.request(c.path, c.init);
      assert.equal(response.status, c.status);
      assert.equal(response.headers.get("content-type"), "application/problem+json");
      const body = await response.json();
      assert.equal(body.type, c.type);
      assert.equal(body.status, c.status);
      assert.equal(typeof body.title, "string");
    });
  }
  assert.deepEqual(await rowCounts(db), { likes: 0, outbox: 0 });
});

Deno.test("POST /likes commits the like row and its LikeEvent outbox row together", async () => {
  await using db = await testDatabase();
  await using api = likesApi(db, "interaction-events");
  const user9 = await as(db, 9);
  const response = await api.app.request("/likes", {
    method: "POST",
    headers: { ...user9, "content-type": "application/json", "x-request-id": "req-123" },
    body: JSON.stringify({ targetType: "comment", targetId: "77", action: 1 }),
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.changed, true);

  const rows = await db.query<{ topic: string; key: string; value: string; headers: Record<string, string> }>(
    "select topic, key, value, headers from outbox",
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0].topic, "interaction-events");
  assert.equal(rows[0].key, "comment:77");
  const envelope = JSON.parse(rows[0].value);
  assert.equal(envelope.eventId, body.eventId);
  assert.equal(envelope.eventType, "LikeEvent");
  assert.equal(envelope.payload.commentId, "77");
  assert.equal(envelope.payload.userId, "9");
  assert.equal(envelope.payload.action, 1);
  assert.equal(envelope.headers["x-request-id"], "req-123");
  assert.equal(rows[0].headers["event-id"], body.eventId);
  assert.equal(response.headers.get("x-request-id"), "req-123");

  // the same like again is a no-op: no second row, no second event
  const again = await api.app.request("/comments/77/likes", {
    method: "POST",
    headers: user9,
  });
  assert.equal((await again.json()).changed, false);
  assert.deepEqual(await rowCounts(db), { likes: 1, outbox: 1 });
});

Deno.test("a rolled-back transaction leaves neither the like nor its event", async () => {
  await using db = await testDatabase();
  const unitOfWork = interactionUnitOfWork(db);
  const target = { type: "video" as const, id: "5" };
  await assert.rejects(
    unitOfWork.inTransaction(async (tx) => {
      await tx.likes.add("3", target, new Date());
      await tx.outbox.append("interaction-events", [
        likeEnvelope({ type: "LikeAdded", userId: "3", target, action: 1, at: new Date() }),
      ]);
      throw new Error("boom after the outbox write");
    }),
    /boom/,
  );
  assert.deepEqual(await rowCounts(db), { likes: 0, outbox: 0 });
});

Deno.test("a valid traceparent travels into the event; an oversized X-Request-Id is replaced, not stored", async () => {
  await using db = await testDatabase();
  await using api = likesApi(db, "interaction-events");
  const traceparent = `00-${"4bf92f3577b34da6a3ce929d0e0e4736"}-${"00f067aa0ba902b7"}-01`;
  const huge = "r".repeat(10_000);
  const response = await api.app.request("/videos/8/likes", {
    method: "POST",
    headers: { ...await as(db, 2), traceparent, "x-request-id": huge },
  });
  assert.equal(response.status, 200);
  const answeredId = response.headers.get("x-request-id") ?? "";
  assert.notEqual(answeredId, huge);
  assert.ok(
    answeredId.length > 0 && answeredId.length <= 255,
    `a fresh id answered: ${answeredId.length} chars`,
  );
  const [row] = await db.query<{ value: string }>("select value from outbox");
  const envelope = JSON.parse(row.value);
  assert.equal(envelope.headers.traceparent, traceparent);
  assert.equal(envelope.headers["x-request-id"], answeredId);
});

Deno.test("a read right after a like or unlike includes it, with a cold and with a warm cache", async () => {
  await using db = await testDatabase();
  await using api = likesApi(db, "interaction-events");
  const users = await signedIn(db, [1, 2, 3, ...Array.from({ length: 30 }, (_, i) => 100 + i)]);
  const post = async (user: number, video: number, method = "POST") =>
    await (await api.app.request(`/videos/${video}/likes`, {
      method,
      headers: users.get(String(user)),
    }))
      .json();
  const get = async (video: number, user?: number) =>
    await (await api.app.request(`/videos/${video}/likes`, {
      headers: user ? users.get(String(user)) : {},
    }))
      .json();

  // cold: nothing cached; no consumer runs, so the projection stays at 0 throughout
  assert.equal((await post(1, 5)).changed, true);
  assert.deepEqual(await get(5, 1), { count: 1, liked: true });

  // warm: the count is cached first, then changes follow it at once
  assert.deepEqual(await get(6), { count: 0, liked: false });
  await post(2, 6);
  assert.deepEqual(await get(6, 3), { count: 1, liked: false });
  await post(3, 6);
  assert.deepEqual(await get(6, 3), { count: 2, liked: true });
  await post(2, 6, "DELETE");
  assert.deepEqual(await get(6, 2), { count: 1, liked: false });

  // many users liking one hot target at once: each like is counted, none serializes on a shared row
  await Promise.all(Array.from({ length: 30 }, (_, i) => post(100 + i, 7)));
  assert.deepEqual(await get(7), { count: 30, liked: false });
  const projected = await db.query("select 1 from like_counts");
  assert.equal(projected.length, 0, "the counts came from the like rows, not from the projection");
});

Deno.test("likes beyond RATE_LIMIT_POINTS in the window get 429 with Retry-After and write nothing", async () => {
  await using db = await testDatabase();
  await using api = likesApi(db, "interaction-events", {
    RATE_LIMIT_POINTS: "2",
    RATE_LIMIT_WINDOW_SECONDS: "60",
  });
  await api.redisHandle.prefixed.ping(); // the limiter lets writes through until its Redis client is ready
  const users = await signedIn(db, [1, 2]);
  const like = (user: string, video: number) =>
    api.app.request(`/videos/${video}/likes`, { method: "POST", headers: users.get(user) });
  assert.equal((await like("1", 1)).status, 200);
  assert.equal((await like("1", 2)).status, 200);
  const refused = await like("1", 3);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  assert.equal((await refused.json()).type, "urn:problem:rate-limited");
  assert.equal((await like("2", 3)).status, 200, "another user has a budget of its own");
  const reads = await api.app.request("/videos/3/likes", { headers: users.get("1") });
  assert.deepEqual(
    await reads.json(),
    { count: 1, liked: false },
    "reads are not limited; the refused like wrote nothing",
  );
  assert.deepEqual(await rowCounts(db), { likes: 3, outbox: 3 });
});
