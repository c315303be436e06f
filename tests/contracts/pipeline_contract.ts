/**
 * Contract of an event transport inside the whole pipeline (outbox → relay → transport → consumer runtime):
 * delivery, per-key order, dedupe, retries and dead letters, a pause (no dead letter) on a database outage,
 * restart from the committed position.
 */
import assert from "node:assert/strict";
import {
  PostgresInboxStore,
  PostgresOutboxSource,
  PostgresOutboxWriter,
} from "../../adapters/postgres/outbox_store.ts";
import { isInfrastructureError, type SqlClient } from "../../adapters/postgres/sql_client.ts";
import { sqlUnitOfWork } from "../../adapters/postgres/unit_of_work.ts";
import type { UnitOfWork } from "../../application/ports.ts";
import { envelopeHeaders } from "../../outbox/buckets.ts";
import { startConsumer } from "../../outbox/consumer.ts";
import { createEnvelope, type Envelope } from "../../outbox/envelope.ts";
import type {
  InboxStore,
  Publisher,
  ReceivedMessage,
  Subscriber,
  TopicAdmin,
  TransportMessage,
} from "../../outbox/ports.ts";
import { startRelay } from "../../outbox/relay.ts";
import type { RetryPolicy } from "../../outbox/retry.ts";
import { eventually, testLogger, uniqueId } from "../helpers.ts";
import { lockNamespaceOf } from "../../bin/infrastructure.ts";
import type { TestDb } from "./adapters.ts";

/** A database and a transport working together, as one deployment mode uses them. */
export interface Stack {
  readonly db: TestDb;
  readonly transport: Publisher & Subscriber & Pick<TopicAdmin, "ensure">;
  /** Messages of `topic` not yet committed by `group`, per partition (0 everywhere: the group is at the end). */
  lag(group: string, topic: string): Promise<{ partition: number; lag: number }[]>;
  /** The relay may use more than one claim loop (false for a single-session database). */
  readonly concurrentRelay: boolean;
  close(): Promise<void>;
}

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
    eventType: testEventType,
    aggregateType: "test",
    aggregateId: key,
    payload,
  });
  return {
    envelope,
    wire: { topic, key, value: JSON.stringify(envelope), headers: envelopeHeaders(envelope) },
  };
}

async function readAll(stack: Stack, topic: string, count: number): Promise<ReceivedMessage[]> {
  const messages: ReceivedMessage[] = [];
  const subscription = await stack.transport.subscribe({
    group: `reader-${uniqueId()}`,
    topics: [topic],
    onBatch: (batch) => Promise.resolve(void messages.push(...batch.messages)),
  });
  try {
    await eventually(() => Promise.resolve(messages.length), (n) => n >= count, {
      what: `${count} on ${topic}`,
    });
  } finally {
    await subscription.close();
  }
  return messages;
}

/**
 * Everything on `topic` (one partition) up to a marker published now: a positive signal that nothing else was
 * there, instead of waiting for messages that should not come.
 */
async function readUpToMarker(stack: Stack, topic: string): Promise<ReceivedMessage[]> {
  const marker = `marker-${uniqueId()}`;
  await stack.transport.publish([{ topic, key: marker, value: marker, headers: {} }]);
  const messages: ReceivedMessage[] = [];
  const subscription = await stack.transport.subscribe({
    group: `reader-${uniqueId()}`,
    topics: [topic],
    onBatch: (batch) => Promise.resolve(void messages.push(...batch.messages)),
  });
  try {
    await eventually(() => Promise.resolve(messages), (got) => got.some((m) => m.key === marker), {
      what: `the marker on ${topic}`,
    });
  } finally {
    await subscription.close();
  }
  return messages.filter((m) => m.key !== marker);
}

/** The transaction of the test consumer: the inbox and the SQL client of its effect. */
interface EffectTx {
  readonly inbox: InboxStore;
  readonly sql: SqlClient;
}

/** Retries fast enough for tests: 3 retries, 20 ms doubling. */
const fastRetry: RetryPolicy = { maxRetries: 3, baseDelayMs: 20, factor: 2, maxDelayMs: 1000 };

/** The neutral test event's type: the one the test consumer has a handler for. */
const testEventType = "TestHappened";

/**
 * Waits until `group`'s committed position is at the end of every partition of `topic`: a positive signal that
 * everything published before was handled and nothing is pending that could still arrive.
 */
async function drained(stack: Stack, group: string, topic: string): Promise<void> {
  await eventually(() => stack.lag(group, topic), (lags) => lags.every((p) => p.lag === 0), {
    what: `${group} committed to the end of ${topic}`,
  });
}

/** The event ids of messages, in delivery order. */
const eventIds = (messages: readonly ReceivedMessage[]) => messages.map((m) => m.headers["event-id"]);

/** The headers of a message without `dlq-failed-at`, checked on its own (a time of the run). */
function withoutFailedAt(headers: Readonly<Record<string, string>>): Record<string, string> {
  const { "dlq-failed-at": failedAt, ...rest } = headers;
  assert.equal(new Date(failedAt).toISOString(), failedAt, "dlq-failed-at is an ISO time");
  return rest;
}

/**
 * A consumer whose effect is a row in test_effects; it counts handler calls, throws on poison, and records
 * every message the transport delivers to it (`delivered`: redeliveries included, before the inbox).
 */
async function effectConsumer(
  stack: Stack,
  topic: string,
  options: {
    group?: string;
    batch?: boolean;
    flushOnDelivery?: boolean;
    unitOfWork?: UnitOfWork<EffectTx>;
    retry?: RetryPolicy;
  } = {},
) {
  await stack.db.exec(
    "create table if not exists test_effects (event_id uuid not null, key text not null, seq int not null)",
  );
  const calls = new Map<string, number>();
  const delivered: ReceivedMessage[] = [];
  const subscriber: Subscriber = {
    subscribe: (subscribeOptions) =>
      stack.transport.subscribe({
        ...subscribeOptions,
        onBatch: (batch, subscription) => {
          delivered.push(...batch.messages);
          return subscribeOptions.onBatch(batch, subscription);
        },
      }),
  };
  const group = options.group ?? `${topic}.effects`;
  const consumer = await startConsumer({
    group,
    topics: [topic],
    subscriber,
    deadLetters: stack.transport,
    inbox: true,
    unitOfWork: options.unitOfWork ?? effectUnitOfWork(stack),
    retry: options.retry ?? fastRetry,
    batch: options.flushOnDelivery
      ? { maxSize: 100, flushEveryMs: 600_000, flushOnDelivery: true }
      : options.batch
      ? { maxSize: 100, flushEveryMs: 50 }
      : undefined,
    isInfrastructure: isInfrastructureError,
    logger: testLogger,
    handlers: {
      [testEventType]: async (events, tx) => {
        for (const event of events) {
          calls.set(event.eventId, (calls.get(event.eventId) ?? 0) + 1);
          const payload = event.payload as Payload;
          if (payload.poison) throw new Error(`cannot apply event ${event.eventId}`);
          await tx.sql.query("insert into test_effects (event_id, key, seq) values ($1, $2, $3)", [
            event.eventId,
            event.aggregateId,
            payload.seq,
          ]);
        }
      },
    },
  });
  return { group, calls, delivered, stop: () => consumer.stop(), status: () => consumer.status() };
}

function effectUnitOfWork(stack: Stack): UnitOfWork<EffectTx> {
  return sqlUnitOfWork(stack.db, (tx: SqlClient) => ({ inbox: new PostgresInboxStore(tx), sql: tx }));
}

const effects = (stack: Stack) =>
  stack.db.query<{ event_id: string; key: string; seq: number }>(
    "select event_id::text, key, seq from test_effects",
  );

/** Registers the pipeline contract for one deployment stack. */
export function pipelineContract(name: string, open: () => Promise<Stack>): void {
  const topicOf = async (stack: Stack, partitions: number) => {
    const topic = `t${uniqueId()}.contract`;
    await stack.transport.ensure([{ topic, partitions }]);
    return topic;
  };

  Deno.test(`${name}: committed events travel outbox → relay → consumer, each key in commit order`, async () => {
    const stack = await open();
    try {
      const topic = await topicOf(stack, 3);
      for (let seq = 1; seq <= 30; seq++) {
        await stack.db.transaction((tx) =>
          new PostgresOutboxWriter(tx, { channel: `outbox_${stack.db.schema}` }).append(
            topic,
            ["k1", "k2", "k3", "k4"].map((key) =>
              createEnvelope({
                eventType: testEventType,
                aggregateType: "t",
                aggregateId: key,
                payload: { seq },
              })
            ),
          )
        );
      }
      const source = new PostgresOutboxSource(stack.db, {
        channel: `outbox_${stack.db.schema}`,
        lockNamespace: lockNamespaceOf(stack.db.schema),
        exclusive: !stack.concurrentRelay,
      });
      try {
        await source.listen();
        const relay = startRelay({
          source,
          publisher: stack.transport,
          concurrency: stack.concurrentRelay ? 3 : 1,
          batchSize: 7,
          pollIntervalMs: 50,
        });
        try {
          const consumer = await effectConsumer(stack, topic);
          try {
            const rows = await eventually(() => effects(stack), (r) => r.length === 120, {
              what: "120 effects",
            });
            assert.equal(new Set(rows.map((r) => r.event_id)).size, 120);
          } finally {
            await consumer.stop();
          }
        } finally {
          await relay.stop();
        }
      } finally {
        await source.close();
      }
      const delivered = await readAll(stack, topic, 120);
      for (const key of ["k1", "k2", "k3", "k4"]) {
        const seqs = delivered.filter((m) => m.key === key).map((m) => JSON.parse(m.value).payload.seq);
        assert.deepEqual(seqs, Array.from({ length: 30 }, (_, i) => i + 1), `order of ${key}`);
      }
    } finally {
      await stack.close();
    }
  });

  Deno.test(`${name}: the same event delivered twice is applied once`, async () => {
    const stack = await open();
    try {
      const topic = await topicOf(stack, 2);
      const first = message(topic, "k1", { seq: 1 });
      const second = message(topic, "k2", { seq: 2 });
      await stack.transport.publish([first.wire, second.wire, first.wire]);
      await stack.transport.publish([first.wire]);
      const consumer = await effectConsumer(stack, topic);
      try {
        // The group committed past all four messages: every one was handled, none is still to come.
        await drained(stack, consumer.group, topic);
        assert.equal(
          eventIds(consumer.delivered).filter((id) => id === first.envelope.eventId).length,
          3,
          "the consumer was handed the event three times",
        );
        assert.deepEqual(
          (await effects(stack)).map((r) => r.event_id).toSorted(),
          [first.envelope.eventId, second.envelope.eventId].toSorted(),
          "each event applied exactly once",
        );
      } finally {
        await consumer.stop();
      }
    } finally {
      await stack.close();
    }
  });

  for (const batch of [false, true]) {
    Deno.test(`${name}: a poison event is retried, dead-lettered with the failure in its headers, and the events behind it go on (${batch ? "batched" : "one by one"})`, async () => {
      const stack = await open();
      try {
        const topic = await topicOf(stack, 1);
        // One partition, published in one batch: the poison is at offset 1 of partition 0.
        const poison = message(topic, "same-key", { seq: 2, poison: true });
        const wires = [message(topic, "same-key", { seq: 1 }).wire, poison.wire];
        for (const seq of [3, 4, 5]) wires.push(message(topic, "same-key", { seq }).wire);
        await stack.transport.publish(wires);
        const consumer = await effectConsumer(stack, topic, { batch });
        try {
          const rows = await eventually(() => effects(stack), (r) => r.length === 4, {
            what: "four good events",
          });
          assert.deepEqual(rows.map((r) => r.seq).sort(), [1, 3, 4, 5]);
          assert.ok(
            (consumer.calls.get(poison.envelope.eventId) ?? 0) >= 1 + fastRetry.maxRetries,
            "retried",
          );
          await drained(stack, consumer.group, topic);
        } finally {
          await consumer.stop();
        }
        const dead = await readUpToMarker(stack, `${topic}.dlq`);
        assert.equal(dead.length, 1, "only the poison event is dead-lettered");
        assert.equal(dead[0].key, "same-key");
        assert.equal(dead[0].value, poison.wire.value, "the original value is kept");
        assert.deepEqual(withoutFailedAt(dead[0].headers), {
          ...poison.wire.headers,
          "dlq-original-topic": topic,
          "dlq-original-partition": "0",
          "dlq-original-offset": "1",
          "dlq-error": `cannot apply event ${poison.envelope.eventId}`,
          "dlq-error-type": "Error",
          "dlq-attempts": String(1 + fastRetry.maxRetries),
          "dlq-consumer": consumer.group,
        });
      } finally {
        await stack.close();
      }
    });
  }

  Deno.test(`${name}: with flushOnDelivery a lone event is applied without waiting for the flush timer`, async () => {
    const stack = await open();
    try {
      const topic = await topicOf(stack, 1);
      const consumer = await effectConsumer(stack, topic, { flushOnDelivery: true });
      try {
        await stack.transport.publish([message(topic, "k", { seq: 1 }).wire]);
        await eventually(() => effects(stack), (rows) => rows.length === 1, {
          timeoutMs: 20_000,
          what: "the event applied long before the 10-minute timer",
        });
      } finally {
        await consumer.stop();
      }
    } finally {
      await stack.close();
    }
  });

  Deno.test(`${name}: an undecodable message is dead-lettered at once, with the failure in its headers`, async () => {
    const stack = await open();
    try {
      const topic = await topicOf(stack, 1);
      // One partition: the undecodable message is at offset 1 of partition 0.
      await stack.transport.publish([
        message(topic, "k", { seq: 1 }).wire,
        { topic, key: "k", value: "{not json", headers: { "x-trace": "t-1" } },
        message(topic, "k", { seq: 2 }).wire,
      ]);
      const consumer = await effectConsumer(stack, topic);
      try {
        await eventually(() => effects(stack), (rows) => rows.length === 2, { what: "the good events" });
        await drained(stack, consumer.group, topic);
      } finally {
        await consumer.stop();
      }
      let parseError = "";
      try {
        JSON.parse("{not json");
      } catch (error) {
        parseError = (error as Error).message;
      }
      const dead = await readUpToMarker(stack, `${topic}.dlq`);
      assert.equal(dead.length, 1, "only the undecodable message is dead-lettered");
      assert.equal(dead[0].key, "k");
      assert.equal(dead[0].value, "{not json");
      assert.deepEqual(withoutFailedAt(dead[0].headers), {
        "x-trace": "t-1",
        "dlq-original-topic": topic,
        "dlq-original-partition": "0",
        "dlq-original-offset": "1",
        "dlq-error": `message value is not JSON: ${parseError}`,
        "dlq-error-type": "PoisonMessageError",
        "dlq-attempts": "1",
        "dlq-consumer": consumer.group,
      });
    } finally {
      await stack.close();
    }
  });

  for (const batch of [true, false]) {
    Deno.test(`${name}: a restarted consumer resumes from its committed position (${batch ? "batched" : "one by one"})`, async () => {
      const stack = await open();
      try {
        const topic = await topicOf(stack, 2);
        const group = `${topic}.resume`;
        const publishTen = async (from: number) => {
          const ten = Array.from({ length: 10 }, (_, i) => message(topic, `k${i % 3}`, { seq: from + i }));
          await stack.transport.publish(ten.map((m) => m.wire));
          return ten.map((m) => m.envelope.eventId);
        };
        await publishTen(0);
        const first = await effectConsumer(stack, topic, { group, batch });
        try {
          await eventually(() => effects(stack), (rows) => rows.length === 10, { what: "first ten" });
        } finally {
          await first.stop();
        }
        const following = await publishTen(10);
        const second = await effectConsumer(stack, topic, { group, batch });
        try {
          // Counted as delivered by the transport, before the inbox could hide a redelivery. A member that
          // started before the committed position gets the first ten on each partition before the new ones.
          await eventually(
            () => Promise.resolve(eventIds(second.delivered)),
            (ids) => following.every((id) => ids.includes(id)),
            { what: "the ten new events delivered" },
          );
          assert.deepEqual(
            eventIds(second.delivered).toSorted(),
            following.toSorted(),
            "the restarted consumer was handed only what followed its committed position, each once",
          );
          // Then its own position reaches the end: nothing else is on its way.
          await drained(stack, group, topic);
          assert.deepEqual(eventIds(second.delivered).toSorted(), following.toSorted());
          assert.equal((await effects(stack)).length, 20);
        } finally {
          await second.stop();
        }
      } finally {
        await stack.close();
      }
    });
  }

  for (const batch of [false, true]) {
    Deno.test(`${name}: a read-only database pauses the consumer; nothing is dead-lettered, each effect lands once (${batch ? "batched" : "one by one"})`, async () => {
      const stack = await open();
      try {
        const topic = await topicOf(stack, 1);
        // Real SQLSTATE 25006 from the database: while `readOnly`, every transaction is read-only.
        let readOnly = true;
        let refused = 0;
        const writable = effectUnitOfWork(stack);
        const unitOfWork: UnitOfWork<EffectTx> = {
          inTransaction: (work) =>
            writable.inTransaction(async (tx) => {
              if (!readOnly) return await work(tx);
              await tx.sql.query("set transaction read only");
              try {
                return await work(tx);
              } catch (error) {
                refused++;
                throw error;
              }
            }),
        };
        // Fast retries with a small cap: the outage is retried many times beyond maxRetries.
        const retry: RetryPolicy = { maxRetries: 2, baseDelayMs: 10, factor: 2, maxDelayMs: 50 };
        const consumer = await effectConsumer(stack, topic, { batch, unitOfWork, retry });
        const sent: string[] = [];
        const send = async (from: number) => {
          const batchOf = Array.from({ length: 5 }, (_, i) => message(topic, `k${i % 2}`, { seq: from + i }));
          await stack.transport.publish(batchOf.map((m) => m.wire));
          sent.push(...batchOf.map((m) => m.envelope.eventId));
        };
        try {
          await send(0);
          await eventually(() => Promise.resolve(refused), (n) => n > 5 * (1 + retry.maxRetries), {
            what: "the outage retried well past maxRetries",
          });
          await send(5);
          // Events keep arriving while the outage lasts: ten more refused attempts.
          const refusedBefore = refused;
          await eventually(() => Promise.resolve(refused), (n) => n >= refusedBefore + 10, {
            what: "the outage going on",
          });
          await send(10);
          await eventually(() => Promise.resolve(refused), (n) => n > 10 * (1 + retry.maxRetries), {
            what: "more refused attempts",
          });
          const paused = consumer.status();
          assert.equal(paused.paused, true);
          assert.equal(paused.reason, "25006");
          assert.equal((await effects(stack)).length, 0, "nothing applied while read-only");

          readOnly = false;
          const rows = await eventually(() => effects(stack), (r) => r.length >= sent.length, {
            what: `${sent.length} effects after the recovery`,
          });
          assert.deepEqual(
            rows.map((r) => r.event_id).toSorted(),
            sent.toSorted(),
            "each effect exactly once",
          );
          await eventually(() => Promise.resolve(consumer.status().paused), (p) => !p, { what: "resumed" });
        } finally {
          await consumer.stop();
        }
        assert.equal((await effects(stack)).length, sent.length, "still once each after the stop");
        assert.deepEqual(await readUpToMarker(stack, `${topic}.dlq`), [], "nothing dead-lettered");
      } finally {
        await stack.close();
      }
    });
  }
}
