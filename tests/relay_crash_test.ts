import assert from "node:assert/strict";
import { interactionUnitOfWork } from "../adapters/postgres/interaction/unit_of_work.ts";
import { MemoryLikeCache } from "../adapters/memory/interaction/like_cache.ts";
import { setLike } from "../application/interaction/set_like.ts";
import { systemClock } from "../application/ports.ts";
import {
  env,
  eventually,
  readTopic,
  spawnProcess,
  testDatabase,
  testLogger,
  testRedis,
  testTopics,
} from "./helpers.ts";
import { likeConsumerFor } from "./fixtures.ts";

const total = 10_000;

Deno.test(`a relay killed with SIGKILL mid-stream of ${total} events loses none, and each effect happens once`, async () => {
  await using db = await testDatabase({ max: 20 });
  const [topic] = await testTopics(6, "interaction-events");
  const prefix = topic.slice(0, topic.indexOf("."));
  const relayEnv = {
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: prefix,
    KAFKA_BROKERS: env.brokers.join(","),
    RELAY_BATCH_SIZE: "100",
  };
  const deps = {
    unitOfWork: interactionUnitOfWork(db, { channel: `outbox_${db.schema}` }),
    cache: new MemoryLikeCache(),
    clock: systemClock,
    logger: testLogger,
    topic,
  };
  const pending = async () => (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n;

  // given a relay process and writers committing a stream of likes (user i likes video i % 50)
  const first = spawnProcess("relay", relayEnv);
  const eventIds = new Set<string>();
  let next = 1;
  const writer = async () => {
    while (next <= total) {
      const user = next++;
      const result = await setLike(deps, {
        userId: String(user),
        target: { type: "video", id: String((user % 50) + 1) },
        action: 1,
      });
      assert.ok(result.eventId);
      eventIds.add(result.eventId);
    }
  };
  const writing = Promise.all(Array.from({ length: 12 }, writer));

  // when the relay has published part of the stream, it is killed
  await eventually(async () => eventIds.size - (await pending()), (published) => published >= 1500, {
    timeoutMs: 60_000,
    what: "the first relay to publish 1 500 events",
  });
  const killed = await first.stop("SIGKILL");
  assert.equal(killed.signal, "SIGKILL");
  await writing;
  assert.equal(eventIds.size, total);
  const left = await pending();
  assert.ok(left > 0 && left < total, `rows were left mid-stream (${left})`);

  // and a new relay starts
  const second = spawnProcess("relay", relayEnv);
  await eventually(pending, (n) => n === 0, { timeoutMs: 90_000, what: "the outbox to drain" });
  const stopped = await second.stop("SIGTERM");
  assert.equal(stopped.code, 0, "SIGTERM ends the relay cleanly");

  // then every committed event is on the topic
  const messages = await readTopic(
    topic,
    (seen) => new Set(seen.map((m) => m.headers["event-id"])).size >= total,
    {
      timeoutMs: 60_000,
    },
  );
  const onTopic = new Set(messages.map((m) => m.headers["event-id"]));
  assert.equal(onTopic.size, total);
  for (const id of eventIds) assert.ok(onTopic.has(id), `event ${id} reached the topic`);

  // and the consumer applies each exactly once, duplicates on the topic included
  await using redis = testRedis();
  await using _consumer = await likeConsumerFor(db, topic, redis);
  await eventually(
    async () =>
      (await db.query<{ n: number }>("select coalesce(sum(count), 0)::int as n from like_counts"))[0].n,
    (n) => n === total,
    { timeoutMs: 60_000, what: `the projection to count ${total} likes` },
  );
  const mismatches = await db.query(
    `select t.target_id from (select target_id, count(*) as n from likes group by 1) t
     full join like_counts c using (target_id) where t.n is distinct from c.count`,
  );
  assert.equal(mismatches.length, 0, "each target's projected count equals its like rows");
  const inbox = await db.query<{ n: number }>("select count(*)::int as n from inbox");
  assert.equal(inbox[0].n, total);
});
