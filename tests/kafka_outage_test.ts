import assert from "node:assert/strict";
import { KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import {
  eventually,
  freePort,
  kafkaControl,
  readTopic,
  spawnProcess,
  testDatabase,
  uniqueId,
} from "./helpers.ts";
import { likeConsumerFor, likesApi, relayFor } from "./fixtures.ts";

const port = 19092;
const brokers = [`127.0.0.1:${port}`];

Deno.test("writes while Kafka is stopped commit; after it is back, all arrive and the consumer resumes", async () => {
  // given a broker of this test's own, a topic, the API and a relay
  await kafkaControl("start", port);
  try {
    await using db = await testDatabase();
    const topic = `t${uniqueId()}.interaction-events`;
    await new KafkaTopics({ brokers }).ensure([{ topic, partitions: 2 }]);
    await using api = likesApi(db, topic);
    await using _relay = await relayFor(db, { brokers, maxBackoffMs: 1000 });
    await using _consumer = await likeConsumerFor(db, topic, api.redisHandle, { brokers });
    const like = (user: number) =>
      api.app.request(`/videos/${(user % 5) + 1}/likes`, {
        method: "POST",
        headers: { "x-user-id": String(user) },
      });
    assert.equal((await like(1)).status, 200);
    const pending = async () => (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n;
    await eventually(pending, (n) => n === 0, { what: "the first like to be published" });

    // when Kafka stops and users keep liking
    await kafkaControl("stop", port);
    const eventIds: string[] = [];
    for (let user = 2; user <= 101; user++) {
      const response = await like(user);
      assert.equal(response.status, 200, "a write never waits on Kafka");
      eventIds.push((await response.json()).eventId);
    }

    // then the writes are committed and wait in the outbox
    const [likes] = await db.query<{ n: number }>("select count(*)::int as n from likes");
    assert.equal(likes.n, 101);
    assert.equal(await pending(), 100);

    // and when Kafka is back, the relay catches up with nothing lost
    await kafkaControl("start", port);
    await eventually(pending, (n) => n === 0, { timeoutMs: 90_000, what: "the relay to catch up" });
    const messages = await readTopic(topic, (seen) => seen.length >= 101, { brokers, timeoutMs: 30_000 });
    const onTopic = new Set(messages.map((m) => m.headers["event-id"]));
    for (const id of eventIds) assert.ok(onTopic.has(id), `event ${id} published after the outage`);
    const projected = async () =>
      (await db.query<{ n: number }>("select coalesce(sum(count), 0)::int as n from like_counts"))[0].n;
    await eventually(projected, (n) => n === 101, {
      timeoutMs: 90_000,
      what: "the consumer to count all 101 likes",
    });
  } finally {
    await kafkaControl("reset", port);
  }
});

Deno.test("the relay's /health/ready reports Kafka down within seconds, and up again when it returns", async () => {
  await kafkaControl("start", port);
  await using db = await testDatabase();
  const metricsPort = freePort();
  const relay = spawnProcess("relay", {
    DATABASE_SCHEMA: db.schema,
    KAFKA_BROKERS: brokers.join(","),
    METRICS_PORT: String(metricsPort),
  });
  const ready = async () => {
    try {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/health/ready`);
      return { status: response.status, body: await response.json() };
    } catch {
      return { status: 0, body: {} };
    }
  };
  try {
    const up = await eventually(ready, (r) => r.status === 200, { what: "ready" });
    assert.equal(up.body.checks.kafka.status, "up");
    assert.equal(up.body.checks.postgres.status, "up");

    await kafkaControl("stop", port);
    const down = await eventually(ready, (r) => r.status === 503, { timeoutMs: 15_000, what: "not ready" });
    assert.equal(down.body.checks.kafka.status, "down");
    assert.equal(down.body.checks.postgres.status, "up");
    // Status and latency only: an error's text would tell anyone who asks the hosts and roles behind it.
    assert.deepEqual(Object.keys(down.body.checks.kafka).sort(), ["latencyMs", "status"]);
    assert.doesNotMatch(JSON.stringify(down.body), /127\.0\.0\.1|ECONNREFUSED|Error/);

    await kafkaControl("start", port);
    await eventually(ready, (r) => r.status === 200, { timeoutMs: 60_000, what: "ready again" });
  } finally {
    await relay.stop();
    await kafkaControl("reset", port);
  }
});
