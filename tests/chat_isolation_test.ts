/**
 * The push side down, storage unaffected (seed 003 "故障隔离"): the push group's bus (Redis) cut off → messages
 * are still stored; the bus back → the push group resumes and pushes them (at least once, each).
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { env, eventually, freePort, tcpProxy, testDatabase, testTopics, uniqueId } from "./helpers.ts";
import { likeConsumerFor, likesApi, namePrefixOf, relayFor } from "./fixtures.ts";
import { signedIn } from "./users.ts";

Deno.test("push cut off (its Redis unreachable): messages are stored all the same, and pushed once it is back", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  const prefix = namePrefixOf(topic);
  const database = `chat_${db.schema}`;
  const settings = { MONGO_URL: env.mongoUrl, MONGO_DATABASE: database };
  await using api = likesApi(db, topic, settings);
  await using _relay = await relayFor(db);
  // the consumers reach Redis through a proxy the test can cut
  const proxyPort = freePort();
  const proxy = tcpProxy(proxyPort, Number(new URL(env.redisUrl).port || 6379));
  proxy.open();
  const keyPrefix = `test:${uniqueId()}:`;
  const viaProxy = new Redis({
    host: "127.0.0.1",
    port: proxyPort,
    keyPrefix,
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    retryStrategy: () => 200,
  });
  viaProxy.on("error", () => {}); // refused connections while cut off: expected, and reported by the consumers
  const consumers = await likeConsumerFor(db, topic, { prefixed: viaProxy }, { settings });
  const users = await signedIn(db, [1, 2]);
  const pushed = new Set<string>();
  const subscriber = new Redis(env.redisUrl);
  subscriber.on("message", (_channel: string, text: string) => {
    pushed.add(JSON.parse(JSON.parse(text).frame).message.content);
  });
  await subscriber.subscribe(`${prefix}.chat-push`);
  const mongo = new MongoClient(env.mongoUrl);
  const stored = async () =>
    (await mongo.db(database).collection("chat_messages").find({}).toArray()).map((doc) =>
      String(doc.content)
    );
  const send = async (from: number, count: number, label: string) => {
    for (let i = 0; i < count; i++) {
      const response = await api.app.request("/chat/messages", {
        method: "POST",
        headers: { "content-type": "application/json", ...users.get(String(from))! },
        body: JSON.stringify({
          to: from === 1 ? 2 : 1,
          content: `${label} ${i}`,
          clientMessageId: `${label}-${i}`,
        }),
      });
      assert.equal(response.status, 202);
    }
  };
  try {
    // given pushes flowing
    await send(1, 3, "before");
    await eventually(() => Promise.resolve(pushed.size), (n) => n === 3, { what: "3 pushed" });

    // when the push group's Redis is cut off and 10 messages are sent
    proxy.close();
    await send(2, 10, "during");

    // then all 13 are stored, though none of the 10 was pushed
    await eventually(stored, (contents) => contents.length === 13, { what: "13 stored", timeoutMs: 60_000 });
    assert.equal([...pushed].filter((c) => c.startsWith("during")).length, 0);

    // when Redis is reachable again, the push group catches up: each of the 10 is pushed
    proxy.open();
    await eventually(() => Promise.resolve(pushed.size), (n) => n === 13, {
      what: "all 13 pushed after the outage",
      timeoutMs: 90_000,
    });
  } finally {
    await consumers[Symbol.asyncDispose]();
    viaProxy.disconnect();
    proxy.close();
    await subscriber.quit();
    await mongo.db(database).dropDatabase().catch(() => {});
    await mongo.close();
  }
});
