/**
 * Chat across a broker restart (seed 003: both groups resume from their committed positions): sends while
 * Kafka is down are accepted and wait in the outbox; once it is back, every message is stored once and pushed.
 * A broker of the test's own on :19096, so the other tests' broker is not touched.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { env, eventually, kafkaControl, testDatabase, uniqueId } from "./helpers.ts";
import { likeConsumerFor, likesApi, relayFor } from "./fixtures.ts";
import { signedIn } from "./users.ts";

const port = 19096;
const brokers = [`127.0.0.1:${port}`];

Deno.test("Kafka restarted under chat: nothing lost, nothing stored twice, every message pushed", async () => {
  await kafkaControl("start", port);
  try {
    await restartUnderChat();
  } finally {
    // after the clients above are closed: stopped and wiped, for the next run
    await kafkaControl("reset", port);
  }
});

async function restartUnderChat() {
  await using db = await testDatabase();
  const prefix = `t${uniqueId()}`;
  const topic = `${prefix}.interaction-events`;
  const database = `chat_${db.schema}`;
  const settings = { MONGO_URL: env.mongoUrl, MONGO_DATABASE: database, KAFKA_BROKERS: brokers.join(",") };
  await using api = likesApi(db, topic, settings);
  await using _relay = await relayFor(db, { brokers, maxBackoffMs: 1_000 });
  await using _consumers = await likeConsumerFor(db, topic, api.redisHandle, { brokers, settings });
  const users = await signedIn(db, [1, 2]);

  // pushes as the API processes receive them: the bus channel of this environment
  const pushed = new Map<string, number>();
  const subscriber = new Redis(env.redisUrl);
  subscriber.on("message", (_channel: string, text: string) => {
    const frame = JSON.parse(JSON.parse(text).frame);
    pushed.set(frame.message.id, (pushed.get(frame.message.id) ?? 0) + 1);
  });
  await subscriber.subscribe(`${prefix}.chat-push`);
  const mongo = new MongoClient(env.mongoUrl);
  const stored = async () =>
    (await mongo.db(database).collection("chat_messages").find({}).toArray()).map((doc) => String(doc._id));
  let sent = 0;
  const send = async (count: number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++, sent++) {
      const response = await api.app.request("/chat/messages", {
        method: "POST",
        headers: { "content-type": "application/json", ...users.get("1")! },
        body: JSON.stringify({ to: 2, content: `message ${sent}`, clientMessageId: `k-${sent}` }),
      });
      assert.equal(response.status, 202, "a send never waits on Kafka");
      ids.push((await response.json()).messageId);
    }
    return ids;
  };
  try {
    // given messages flowing
    const before = await send(5);
    await eventually(stored, (ids) => ids.length === 5, { what: "5 stored", timeoutMs: 60_000 });

    // when the broker stops, messages are sent, and the broker starts again
    await kafkaControl("stop", port);
    const during = await send(5);
    await kafkaControl("start", port);

    // then all ten are stored, each once, and each was pushed
    const ids = await eventually(stored, (all) => all.length === 10, {
      what: "10 stored",
      timeoutMs: 120_000,
    });
    assert.deepEqual([...ids].sort(), [...before, ...during].sort());
    await eventually(
      () => Promise.resolve([...before, ...during].filter((id) => !pushed.has(id))),
      (missing) => missing.length === 0,
      { what: "every message pushed", timeoutMs: 60_000 },
    );
  } finally {
    await subscriber.quit();
    await mongo.db(database).dropDatabase().catch(() => {});
    await mongo.close();
  }
}
