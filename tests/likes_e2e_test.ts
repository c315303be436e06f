import assert from "node:assert/strict";
import { eventually, testDatabase, testTopics } from "./helpers.ts";
import { likeConsumerFor, likesApi, relayFor } from "./fixtures.ts";
import { as } from "./users.ts";

Deno.test("a like travels API → outbox → relay → Kafka → like-persistence-group → counts table and Redis", async () => {
  // given the API, a relay and the like consumer on real PostgreSQL, Redis and Kafka
  await using db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  await using api = likesApi(db, topic);
  await using _relay = await relayFor(db);
  await using _consumer = await likeConsumerFor(db, topic, api.redisHandle);

  // when user 7 (signed in) likes video 42
  const user7 = await as(db, 7);
  const liked = await api.app.request("/videos/42/likes", { method: "POST", headers: user7 });
  assert.equal(liked.status, 200);
  const body = await liked.json();
  assert.equal(body.liked, true);
  assert.equal(body.changed, true);

  // then a read right away includes it (from the like rows, before the projection caught up), and Redis holds
  // the count and the user's state
  const status = await api.app.request("/videos/42/likes", { headers: user7 });
  assert.deepEqual(await status.json(), { count: 1, liked: true });
  assert.equal(await api.redis.hget(`${api.prefix}like:target:video:42`, "count"), "1");
  assert.equal(await api.redis.hget(`${api.prefix}like:users:video:42`, "7"), "1");

  // and the consumer's projection counts it
  const countOf = async () =>
    (await db.query<{ count: string }>(
      "select count::text from like_counts where target_type = 'video' and target_id = 42",
    ))[0]?.count;
  await eventually(countOf, (count) => count === "1", { what: "like_counts = 1" });
  assert.equal((await db.query("select 1 from outbox")).length, 0, "the relay deleted the published row");

  // when the user likes again, then unlikes
  const again = await api.app.request("/videos/42/likes", { method: "POST", headers: user7 });
  assert.equal((await again.json()).changed, false, "a repeated like changes nothing");
  const unliked = await api.app.request("/videos/42/likes", {
    method: "DELETE",
    headers: user7,
  });
  assert.equal((await unliked.json()).changed, true);

  // then the projection returns to 0 and one inbox row exists per event (two events in all)
  await eventually(countOf, (count) => count === "0", { what: "like_counts = 0" });
  const inbox = await db.query<{ n: number }>("select count(*)::int as n from inbox");
  assert.equal(inbox[0].n, 2);
  const status2 = await api.app.request("/videos/42/likes", { headers: user7 });
  assert.deepEqual(await status2.json(), { count: 0, liked: false });
});
