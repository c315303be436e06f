import assert from "node:assert/strict";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { PostgresOutboxSource, PostgresOutboxWriter } from "../adapters/postgres/outbox_store.ts";
import { bucketOf } from "../outbox/buckets.ts";
import { createEnvelope, type Envelope } from "../outbox/envelope.ts";
import { startRelay } from "../outbox/relay.ts";
import { lockNamespaceOf } from "./fixtures.ts";
import { env, eventually, readTopic, testDatabase, testLogger, uniqueId } from "./helpers.ts";

/** `count` keys that share one key bucket, so one claim holds all of them. */
function keysOfOneBucket(count: number): string[] {
  const prefix = `account-${uniqueId()}-`;
  const bucket = bucketOf(`${prefix}0`);
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (bucketOf(`${prefix}${i}`) === bucket) keys.push(`${prefix}${i}`);
  }
  return keys;
}

Deno.test("a row too large for its topic is parked; the other keys of its bucket flow, in order", async () => {
  // given a topic that takes messages up to 10 000 bytes, and three keys in one bucket
  await using db = await testDatabase();
  const topic = `t${uniqueId()}.poison`;
  await new KafkaTopics({ brokers: env.brokers }).ensure([
    { topic, partitions: 3, configs: { "max.message.bytes": "10000" } },
  ]);
  const keys = keysOfOneBucket(3);
  const [, poisonKey] = keys;

  // and five events per key committed, the third of one key far too large
  const sent = new Map<string, Envelope[]>(keys.map((key) => [key, []]));
  let poison: Envelope | undefined;
  for (let seq = 1; seq <= 5; seq++) {
    const events = keys.map((key) => {
      const tooLarge = key === poisonKey && seq === 3;
      const envelope = createEnvelope({
        eventType: "Counted",
        aggregateType: "counter",
        aggregateId: key,
        payload: { seq, padding: tooLarge ? "x".repeat(20_000) : "" },
      });
      if (tooLarge) poison = envelope;
      else sent.get(key)!.push(envelope);
      return envelope;
    });
    await db.transaction((tx) => new PostgresOutboxWriter(tx).append(topic, events));
  }
  assert.ok(poison);

  // when the relay runs
  const source = new PostgresOutboxSource(db, {
    channel: `outbox_${db.schema}`,
    lockNamespace: lockNamespaceOf(db),
  });
  await source.listen();
  const transport = new KafkajsTransport({ brokers: env.brokers });
  const parked: [number, string][] = [];
  const relay = startRelay({
    source,
    publisher: transport, // the adapter itself refuses a too-large message with MessageRejectedError
    concurrency: 2,
    pollIntervalMs: 200,
    logger: testLogger,
    backoff: { maxRetries: 0, baseDelayMs: 100, factor: 2, maxDelayMs: 1000 },
    observer: { parked: (count, reason) => parked.push([count, reason]) },
  });
  try {
    // then the outbox empties
    const pending = async () => (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n;
    await eventually(pending, (n) => n === 0, { what: "the outbox to empty" });

    // and the bad row sits in the dead letters with the broker's reason
    const deadLetters = await db.query<{ event_id: string; key: string; topic: string; reason: string }>(
      "select event_id::text as event_id, key, topic, reason from outbox_dead_letters",
    );
    assert.deepEqual([...deadLetters], [
      { event_id: poison.eventId, key: poisonKey, topic, reason: "MESSAGE_TOO_LARGE" },
    ]);
    assert.deepEqual(parked, [[1, "MESSAGE_TOO_LARGE"]]);

    // and every other event is on the topic, each key's in commit order (first copies: at-least-once)
    const wanted = new Set([...sent.values()].flat().map((event) => event.eventId));
    const messages = await readTopic(
      topic,
      (seen) => [...wanted].every((id) => seen.some((m) => m.headers["event-id"] === id)),
    );
    assert.ok(!messages.some((m) => m.headers["event-id"] === poison!.eventId), "the bad row never went out");
    for (const key of keys) {
      const firstCopies = [
        ...new Set(messages.filter((m) => m.key === key).map((m) => m.headers["event-id"])),
      ];
      assert.deepEqual(firstCopies, sent.get(key)!.map((event) => event.eventId), `order of ${key}`);
    }
  } finally {
    await relay.stop();
    await source.close();
    await transport.close();
  }
});
