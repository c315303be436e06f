/**
 * Chat's storage isolated from the send path, on real servers: with MongoDB down, sends are still accepted
 * (they only publish) and the storage group pauses instead of dead-lettering; once MongoDB answers, every
 * message is stored; a worker killed with SIGKILL mid-stream stores nothing twice after its restart.
 */
import assert from "node:assert/strict";
import { env, eventually, freePort, repoRoot, spawnProcess, testDatabase, testTopics } from "./helpers.ts";
import { likesApi, namePrefixOf, relayFor } from "./fixtures.ts";
import { signedIn } from "./users.ts";
import { MongoClient } from "mongodb";
import { Redis } from "ioredis";

/** Runs `deploy/mongo.sh <command>` for a server of this test's own on `port`. */
async function mongoControl(command: "start" | "stop", port: number): Promise<void> {
  const output = await new Deno.Command("bash", {
    args: [`${repoRoot}deploy/mongo.sh`, command],
    env: { MONGO_PORT: String(port), MONGO_LOG_LEVEL: "warn" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deploy/mongo.sh ${command}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

Deno.test("MongoDB down: sends are accepted and pushed, storage waits; back: every message stored once, also across a SIGKILLed worker", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  const prefix = namePrefixOf(topic);
  const mongoPort = freePort();
  const mongoUrl = `mongodb://127.0.0.1:${mongoPort}`;
  const settings = { MONGO_URL: mongoUrl, MONGO_DATABASE: "chat" };
  await using api = likesApi(db, topic, settings);
  await using _relay = await relayFor(db);
  const users = await signedIn(db, [1, 2]);
  const workerEnv = {
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: prefix,
    KAFKA_BROKERS: env.brokers.join(","),
    REDIS_URL: env.redisUrl,
    METRICS_PORT: String(freePort()),
    RETRY_BASE_MS: "100",
    ...settings,
  };
  let sent = 0;
  const send = async (count: number) => {
    for (let i = 0; i < count; i++, sent++) {
      const response = await api.app.request("/chat/messages", {
        method: "POST",
        headers: { "content-type": "application/json", ...users.get(sent % 2 ? "2" : "1")! },
        body: JSON.stringify({
          to: sent % 2 ? 1 : 2,
          content: `message ${sent}`,
          clientMessageId: `m-${sent}`,
        }),
      });
      assert.equal(response.status, 202, `send ${sent} while MongoDB is down is still accepted`);
    }
  };
  const stored = async () => {
    const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 2_000 });
    try {
      const ids = await client.db("chat").collection("chat_messages").find({}, { projection: { content: 1 } })
        .toArray();
      return ids.map((doc) => String(doc.content));
    } finally {
      await client.close();
    }
  };

  // pushes as the API processes receive them (the bus channel of this environment)
  const pushed = new Set<string>();
  const subscriber = new Redis(env.redisUrl);
  subscriber.on("message", (_channel: string, text: string) => {
    pushed.add(JSON.parse(JSON.parse(text).frame).message.content);
  });
  await subscriber.subscribe(`${prefix}.chat-push`);

  // given a worker whose MongoDB is not running
  let worker = spawnProcess("worker", workerEnv);
  try {
    // when 20 messages are sent
    await send(20);
    // then they are pushed all the same (the push group does not need MongoDB)...
    await eventually(() => Promise.resolve(pushed.size), (n) => n === 20, {
      what: "20 pushed while MongoDB is down",
      timeoutMs: 60_000,
    });
    // ...while storage waits (its group pauses on the outage; nothing is dead-lettered)

    // when MongoDB starts
    await mongoControl("start", mongoPort);
    // then all 20 are stored
    await eventually(stored, (contents) => contents.length === 20, { what: "20 stored", timeoutMs: 90_000 });

    // when 30 more are sent and the worker is killed outright while storing them, then restarted
    const writing = send(30);
    await eventually(stored, (contents) => contents.length > 25, {
      what: "storing resumed",
      timeoutMs: 60_000,
    });
    assert.equal((await worker.stop("SIGKILL")).signal, "SIGKILL");
    await writing;
    worker = spawnProcess("worker", workerEnv);

    // then all 50 are stored, each once
    const contents = await eventually(stored, (c) => c.length === 50, {
      what: "50 stored",
      timeoutMs: 90_000,
    });
    assert.equal(new Set(contents).size, 50, "no message stored twice");
    const history = await api.app.request("/chat/conversations/dm:1:2/messages?limit=100", {
      headers: users.get("1")!,
    });
    assert.equal((await history.json()).items.length, 50);
  } finally {
    await subscriber.quit();
    await worker.stop();
    await mongoControl("stop", mongoPort);
  }
});
