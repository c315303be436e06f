import assert from "node:assert/strict";
import { PostgresOutboxWriter } from "../adapters/postgres/outbox_store.ts";
import { createEnvelope } from "../outbox/envelope.ts";
import { env, eventually, readTopic, spawnProcess, testDatabase, testTopics } from "./helpers.ts";

const keys = 20;
const perKey = 150;

Deno.test("two relays at once: each key's events reach Kafka in commit order", async () => {
  await using db = await testDatabase({ max: 12 });
  const [topic] = await testTopics(4, "ordered");
  const relayEnv = {
    DATABASE_SCHEMA: db.schema,
    KAFKA_BROKERS: env.brokers.join(","),
    RELAY_BATCH_SIZE: "40",
    RELAY_CONCURRENCY: "2",
    RELAY_POLL_MS: "50",
  };
  // given two relay processes over the same outbox
  const relays = [spawnProcess("relay", relayEnv), spawnProcess("relay", relayEnv)];

  // when four writers commit events of 20 keys, each key's events one transaction after the other
  const writer = async (first: number) => {
    for (let seq = 1; seq <= perKey; seq++) {
      for (let k = first; k < keys; k += 4) {
        await db.transaction((tx) =>
          new PostgresOutboxWriter(tx, { channel: `outbox_${db.schema}` }).append(topic, [
            createEnvelope({
              eventType: "Counted",
              aggregateType: "counter",
              aggregateId: `key-${k}`,
              payload: { seq },
            }),
          ])
        );
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(writer));
  await eventually(
    async () => (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n,
    (n) => n === 0,
    { timeoutMs: 60_000, what: "the outbox to drain" },
  );
  const published: number[] = [];
  for (const relay of relays) {
    assert.equal((await relay.stop("SIGTERM")).code, 0);
    const stoppedLine = (await relay.log()).split("\n").find((line) => line.includes('"relay stopped"'));
    published.push(JSON.parse(stoppedLine ?? "{}").published ?? 0);
  }

  // then both relays took part, and per key the first delivery of each event follows the commit order
  assert.ok(published.every((n) => n > 0), `both relays published (${published})`);
  assert.ok(published.reduce((a, b) => a + b, 0) >= keys * perKey);
  const messages = await readTopic(
    topic,
    (seen) => new Set(seen.map((m) => m.headers["event-id"])).size >= keys * perKey,
  );
  const seen = new Set<string>();
  const sequences = new Map<string, number[]>();
  for (const message of messages) {
    if (seen.has(message.headers["event-id"])) continue;
    seen.add(message.headers["event-id"]);
    const list = sequences.get(message.key) ?? [];
    list.push(JSON.parse(message.value).payload.seq);
    sequences.set(message.key, list);
  }
  assert.equal(sequences.size, keys);
  const expected = Array.from({ length: perKey }, (_, i) => i + 1);
  for (const [key, list] of sequences) assert.deepEqual(list, expected, `order of ${key}`);
});
