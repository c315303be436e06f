import assert from "node:assert/strict";
import { KafkajsTransport } from "../adapters/kafka/kafkajs.ts";
import { PostgresInboxStore } from "../adapters/postgres/outbox_store.ts";
import { sqlUnitOfWork } from "../adapters/postgres/unit_of_work.ts";
import type { SqlClient } from "../adapters/postgres/sql_client.ts";
import { envelopeHeaders } from "../outbox/buckets.ts";
import { startConsumer } from "../outbox/consumer.ts";
import { createEnvelope, type Envelope } from "../outbox/envelope.ts";
import type { TransportMessage } from "../outbox/ports.ts";
import { env, eventually, readTopic, testDatabase, testLogger, testTopics, uniqueId } from "./helpers.ts";
import { fastRetry } from "./fixtures.ts";

interface Payload {
  seq: number;
  poison?: boolean;
}

function message(
  topic: string,
  key: string,
  payload: Payload,
): { envelope: Envelope<Payload>; wire: TransportMessage } {
  const envelope = createEnvelope({
    eventType: "TestHappened",
    aggregateType: "test",
    aggregateId: key,
    payload,
  });
  return {
    envelope,
    wire: { topic, key, value: JSON.stringify(envelope), headers: envelopeHeaders(envelope) },
  };
}

/** A consumer whose effect is a row in test_effects; it throws on events marked poison. */
async function effectConsumer(
  db: Awaited<ReturnType<typeof testDatabase>>,
  topic: string,
  options: { batch?: boolean; attempts: Map<string, number> },
) {
  await db.exec(
    "create table if not exists test_effects (event_id uuid not null, key text not null, seq int not null)",
  );
  const transport = new KafkajsTransport({ brokers: env.brokers });
  const consumer = await startConsumer({
    group: `${topic}.effects-${uniqueId()}`,
    topics: [topic],
    subscriber: transport,
    deadLetters: transport,
    unitOfWork: sqlUnitOfWork(db, (tx: SqlClient) => ({ inbox: new PostgresInboxStore(tx), sql: tx })),
    retry: fastRetry,
    batch: options.batch ? { maxSize: 100, flushEveryMs: 50 } : undefined,
    logger: testLogger,
    handle: async (events, tx) => {
      for (const event of events) {
        const payload = event.payload as Payload;
        if (payload.poison) {
          options.attempts.set(event.eventId, (options.attempts.get(event.eventId) ?? 0) + 1);
          throw new Error(`cannot apply event ${event.eventId}`);
        }
        await tx.sql.query("insert into test_effects (event_id, key, seq) values ($1, $2, $3)", [
          event.eventId,
          event.aggregateId,
          payload.seq,
        ]);
      }
    },
  });
  return {
    async [Symbol.asyncDispose]() {
      await consumer.stop();
      await transport.close();
    },
  };
}

Deno.test("the same event delivered twice is applied once", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(2, "dedupe");
  const transport = new KafkajsTransport({ brokers: env.brokers });
  const first = message(topic, "k1", { seq: 1 });
  const second = message(topic, "k2", { seq: 2 });
  // given the first event on the topic twice (a relay that crashed after publishing, before deleting)
  await transport.publish([first.wire, second.wire, first.wire]);
  await transport.publish([first.wire]);
  await transport.close();

  await using _consumer = await effectConsumer(db, topic, { attempts: new Map() });

  const effects = await eventually(
    () =>
      db.query<{ event_id: string; n: number }>(
        "select event_id::text, count(*)::int as n from test_effects group by 1",
      ),
    (rows) => rows.length === 2,
    { what: "both effects" },
  );
  await new Promise((r) => setTimeout(r, 300)); // let any late duplicate arrive
  const again = await db.query<{ n: number }>("select count(*)::int as n from test_effects");
  assert.equal(again[0].n, 2, "each event applied exactly once");
  assert.deepEqual(effects.map((row) => row.n), [1, 1]);
  const inbox = await db.query<{ n: number }>("select count(*)::int as n from inbox");
  assert.equal(inbox[0].n, 2);
});

for (const batch of [false, true]) {
  Deno.test(`a poison event is retried, dead-lettered, and the events behind it go on (${batch ? "batched" : "one by one"})`, async () => {
    await using db = await testDatabase();
    const [topic] = await testTopics(1, "poison");
    const transport = new KafkajsTransport({ brokers: env.brokers });
    const before = message(topic, "same-key", { seq: 1 });
    const poison = message(topic, "same-key", { seq: 2, poison: true });
    const after = [3, 4, 5].map((seq) => message(topic, "same-key", { seq }));
    await transport.publish([before.wire, poison.wire, ...after.map((m) => m.wire)]);
    await transport.close();

    const attempts = new Map<string, number>();
    await using _consumer = await effectConsumer(db, topic, { batch, attempts });

    const applied = await eventually(
      () => db.query<{ seq: number }>("select seq from test_effects order by seq"),
      (rows) => rows.length === 4,
      { what: "the four good events" },
    );
    assert.deepEqual(applied.map((row) => row.seq), [1, 3, 4, 5]);
    assert.ok(
      (attempts.get(poison.envelope.eventId) ?? 0) >= 1 + fastRetry.maxRetries,
      "retried before giving up",
    );

    const dead = await readTopic(`${topic}.dlq`, (messages) => messages.length >= 1);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].key, "same-key");
    assert.equal(dead[0].headers["event-id"], poison.envelope.eventId);
    assert.match(dead[0].headers["dlq-error"], /cannot apply event/);
    assert.equal(dead[0].headers["dlq-original-topic"], topic);
    assert.equal(dead[0].headers["dlq-attempts"], String(1 + fastRetry.maxRetries));
    assert.equal(JSON.parse(dead[0].value).eventId, poison.envelope.eventId, "the original value is kept");
  });
}

Deno.test("an undecodable message goes to the dead-letter topic without retries", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(1, "garbage");
  const transport = new KafkajsTransport({ brokers: env.brokers });
  const good = message(topic, "k", { seq: 1 });
  await transport.publish([{ topic, key: "k", value: "{not json", headers: {} }, good.wire]);
  await transport.close();
  await using _consumer = await effectConsumer(db, topic, { attempts: new Map() });
  await eventually(() => db.query("select 1 from test_effects"), (rows) => rows.length === 1, {
    what: "good event",
  });
  const dead = await readTopic(`${topic}.dlq`, (messages) => messages.length >= 1);
  assert.equal(dead[0].value, "{not json");
  assert.match(dead[0].headers["dlq-error"], /not JSON/);
  assert.equal(dead[0].headers["dlq-attempts"], "1");
});
