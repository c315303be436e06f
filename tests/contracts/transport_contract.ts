/** What every transport adapter must do, stated once over the ports; each adapter's test runs it. */
import assert from "node:assert/strict";
import { MessageRejectedError } from "../../outbox/errors.ts";
import type {
  PartitionBatch,
  Publisher,
  ReceivedMessage,
  Subscriber,
  Subscription,
  TopicAdmin,
  TransportMessage,
} from "../../outbox/ports.ts";
import { uniqueId } from "../helpers.ts";

/**
 * Limits a case needs on the topics it creates. Kafka sets them as topic configs (max.message.bytes,
 * retention.ms); the in-process transport has them as options of the transport, for all its topics.
 */
export interface TopicLimits {
  /** Largest message accepted, in bytes. */
  readonly maxMessageBytes?: number;
  /** How long messages are kept, in milliseconds; null keeps them forever. */
  readonly retentionMs?: number | null;
}

/** A transport opened for one test, with the administration the suite needs around it. */
export interface TransportUnderTest {
  publisher: Publisher;
  subscriber: Subscriber;
  /** Reads topics' retention (creating topics goes through `createTopics`, which applies the limits). */
  admin: Pick<TopicAdmin, "retentionMs">;
  /** Creates the topics with the limits the transport was opened with (topics are never created implicitly). */
  createTopics(topics: string[], partitions: number): Promise<void>;
  /** Releases everything the transport opened, subscriptions included. */
  close(): Promise<void>;
}

const deliveryTimeoutMs = 30_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = deliveryTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(25);
  }
}

/** A subscription that records every batch it is handed. */
interface Recorder {
  readonly subscription: Subscription;
  readonly batches: PartitionBatch[];
  readonly messages: ReceivedMessage[];
}

async function record(
  subscriber: Subscriber,
  group: string,
  topics: string[],
  onBatch: (batch: PartitionBatch, subscription: Subscription) => Promise<void> = () => Promise.resolve(),
): Promise<Recorder> {
  const batches: PartitionBatch[] = [];
  const messages: ReceivedMessage[] = [];
  const subscription = await subscriber.subscribe({
    group,
    topics,
    onBatch: async (batch, subscription) => {
      batches.push(batch);
      messages.push(...batch.messages);
      await onBatch(batch, subscription);
    },
  });
  return { subscription, batches, messages };
}

/**
 * Publishes a marker after the messages of each key in `keys` (same key: same partition, after them) and waits
 * until `recorder` got every marker: a positive signal that everything published before on those partitions
 * was delivered, instead of waiting for messages that should not come. Returns what it got, markers left out.
 */
async function upToMarkers(
  publisher: Publisher,
  recorder: Recorder,
  topic: string,
  keys: readonly string[],
): Promise<ReceivedMessage[]> {
  const marker = `marker-${uniqueId()}`;
  await publisher.publish(keys.map((key) => message(topic, key, marker)));
  await waitFor(
    `the markers of ${keys.length} key(s)`,
    () => keys.every((key) => recorder.messages.some((m) => m.key === key && m.value === marker)),
  );
  return recorder.messages.filter((m) => m.value !== marker);
}

/** The error `work` rejects with; fails if it resolves, or if it is still pending after `timeoutMs`. */
async function rejection(work: Promise<unknown>, timeoutMs = deliveryTimeoutMs): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<{ pending: true }>((resolve) => {
    timer = setTimeout(() => resolve({ pending: true }), timeoutMs);
  });
  try {
    const outcome = await Promise.race([
      work.then(() => ({ resolved: true }), (error: unknown) => ({ error })),
      deadline,
    ]);
    if ("error" in outcome) return outcome.error;
    return assert.fail(
      "resolved" in outcome ? "expected a rejection" : `still pending after ${timeoutMs} ms`,
    );
  } finally {
    clearTimeout(timer);
  }
}

function assertRejected(error: unknown, reason: string): void {
  assert.ok(error instanceof MessageRejectedError, `expected a MessageRejectedError, got ${error}`);
  assert.equal(error.reason, reason, error.message);
}

/** A value of about `bytes` characters that compression cannot shrink much (base64 of random bytes). */
function incompressible(bytes: number): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(Math.ceil(bytes * 3 / 4)))));
}

function names(): { topic: (base: string) => string; group: (base: string) => string } {
  const id = uniqueId();
  return { topic: (base) => `contract.${id}.${base}`, group: (base) => `contract-${id}-${base}` };
}

function message(
  topic: string,
  key: string,
  value: string,
  headers: Record<string, string> = {},
): TransportMessage {
  return { topic, key, value, headers };
}

/**
 * Registers the transport contract's test cases for one adapter; `open` gives each case a fresh transport
 * whose topics have the limits the case asks for.
 */
export function transportContract(
  name: string,
  open: (limits: TopicLimits) => Promise<TransportUnderTest>,
): void {
  async function withTransport(
    work: (transport: TransportUnderTest) => Promise<void>,
    limits: TopicLimits = {},
  ): Promise<void> {
    const transport = await open(limits);
    try {
      await work(transport);
    } finally {
      await transport.close();
    }
  }

  Deno.test(`${name}: a published message arrives with its key, value and headers unchanged`, () =>
    withTransport(async ({ publisher, subscriber, createTopics }) => {
      const { topic: topicName, group } = names();
      const topic = topicName("roundtrip");
      await createTopics([topic], 1);
      const sent = message(topic, "video:42 ü", '{"text":"héllo ✓","n":1}', {
        "event-id": crypto.randomUUID(),
        "x-request-id": "req-1",
        "x-ünïcode": "välue ✓",
        "x-empty": "",
      });
      // Published before anyone subscribes: a new group starts from the earliest message.
      await publisher.publish([sent]);

      const heartbeats: Promise<void>[] = [];
      const recorder = await record(subscriber, group("reader"), [topic], (batch) => {
        heartbeats.push(batch.heartbeat());
        return Promise.resolve();
      });
      await waitFor("the message", () => recorder.messages.length >= 1);
      const received = await upToMarkers(publisher, recorder, topic, [sent.key]);
      await Promise.all(heartbeats);
      await recorder.subscription.close();

      assert.equal(received.length, 1, "delivered once");
      const [got] = received;
      assert.deepEqual(
        { topic: got.topic, key: got.key, value: got.value, headers: got.headers, partition: got.partition },
        { ...sent, partition: 0 },
      );
      assert.equal(got.offset, "0");
      assert.equal(recorder.batches[0].topic, topic);
      assert.equal(recorder.batches[0].partition, 0);
    }));

  Deno.test(
    `${name}: 1 000 messages over 10 keys on 3 partitions arrive per key in publish order, one batch of a partition at a time`,
    () =>
      withTransport(async ({ publisher, subscriber, createTopics }) => {
        const { topic: topicName, group } = names();
        const topic = topicName("ordered");
        await createTopics([topic], 3);
        const keys = Array.from({ length: 10 }, (_, k) => `key-${k}`);
        const total = 1000;
        const sent = Array.from(
          { length: total },
          (_, i) => message(topic, keys[i % keys.length], String(Math.floor(i / keys.length))),
        );
        // Batches awaited one after the other, as the relay publishes.
        for (let i = 0; i < total; i += 100) await publisher.publish(sent.slice(i, i + 100));

        const active = new Set<number>();
        const overlaps: number[] = [];
        const recorder = await record(subscriber, group("reader"), [topic], async (batch) => {
          if (active.has(batch.partition)) overlaps.push(batch.partition);
          active.add(batch.partition);
          // Leaves room for a second batch of the same partition to start, if the transport allowed it.
          await delay(2);
          active.delete(batch.partition);
        });
        await waitFor(`${total} messages`, () => recorder.messages.length >= total);
        const received = await upToMarkers(publisher, recorder, topic, keys);
        await recorder.subscription.close();

        assert.equal(received.length, total, "each message delivered once");
        assert.deepEqual(overlaps, [], "no partition had two batches in flight");
        const partitionOf = new Map<string, Set<number>>();
        const sequences = new Map<string, number[]>();
        for (const got of received) {
          partitionOf.set(got.key, (partitionOf.get(got.key) ?? new Set()).add(got.partition));
          sequences.set(got.key, [...(sequences.get(got.key) ?? []), Number(got.value)]);
        }
        const expected = Array.from({ length: total / keys.length }, (_, i) => i);
        for (const key of keys) {
          assert.equal(partitionOf.get(key)?.size, 1, `${key} stays on one partition`);
          assert.deepEqual(sequences.get(key), expected, `order of ${key}`);
        }
        for (const batch of recorder.batches) {
          assert.ok(batch.messages.length > 0, "no empty batch");
          const offsets = batch.messages.map((m) => BigInt(m.offset));
          for (const m of batch.messages) {
            assert.equal(m.topic, batch.topic);
            assert.equal(m.partition, batch.partition);
          }
          for (let i = 1; i < offsets.length; i++) {
            assert.ok(offsets[i] > offsets[i - 1], "offsets ascend in a batch");
          }
        }
      }),
  );

  Deno.test(
    `${name}: a group that re-subscribes resumes at its committed position and gets the uncommitted messages again`,
    () =>
      withTransport(async ({ publisher, subscriber, createTopics }) => {
        const { topic: topicName, group: groupName } = names();
        const topic = topicName("resume");
        const group = groupName("resume");
        await createTopics([topic], 1);
        await publisher.publish(Array.from({ length: 10 }, (_, i) => message(topic, "k", `m${i}`)));

        // given a member that received m0..m9 and committed only up to m4 (the next offset to read is 5)
        const first = await record(subscriber, group, [topic]);
        await waitFor("m0..m9", () => first.messages.length >= 10);
        await first.subscription.commit([{ topic, partition: 0, offset: "5" }]);
        await first.subscription.close();
        assert.deepEqual(first.messages.map((m) => m.value), Array.from({ length: 10 }, (_, i) => `m${i}`));

        // when more messages follow and the group subscribes again
        await publisher.publish(Array.from({ length: 5 }, (_, i) => message(topic, "k", `m${10 + i}`)));
        const second = await record(subscriber, group, [topic]);
        const received = await upToMarkers(publisher, second, topic, ["k"]);
        await second.subscription.close();

        // then it starts at m5: m5..m9 were delivered but not committed, so they come again, then the new ones
        assert.deepEqual(
          received.map((m) => m.value),
          Array.from({ length: 10 }, (_, i) => `m${5 + i}`),
        );
        assert.equal(received[0].offset, "5");
      }),
  );

  Deno.test(`${name}: two groups each receive every message`, () =>
    withTransport(async ({ publisher, subscriber, createTopics }) => {
      const { topic: topicName, group } = names();
      const topic = topicName("fanout");
      await createTopics([topic], 2);
      const values = Array.from({ length: 50 }, (_, i) => `v${i}`);
      const a = await record(subscriber, group("a"), [topic]);
      const b = await record(subscriber, group("b"), [topic]);
      const keys = Array.from({ length: 7 }, (_, k) => `key-${k}`);
      await publisher.publish(values.map((value, i) => message(topic, keys[i % keys.length], value)));

      // Markers after the values on every key, so on every partition that has any.
      const marker = `marker-${uniqueId()}`;
      await publisher.publish(keys.map((key) => message(topic, key, marker)));
      await waitFor(
        "both groups to get every marker",
        () => [a, b].every((r) => r.messages.filter((m) => m.value === marker).length >= keys.length),
      );
      await Promise.all([a.subscription.close(), b.subscription.close()]);
      for (const recorder of [a, b]) {
        const received = recorder.messages.filter((m) => m.value !== marker);
        assert.deepEqual(received.map((m) => m.value).sort(), [...values].sort(), "each value once");
      }
    }));

  Deno.test(`${name}: close waits for the batch in flight, and the group resumes afterwards`, () =>
    withTransport(async ({ publisher, subscriber, admin, createTopics }) => {
      const { topic: topicName, group: groupName } = names();
      const topic = topicName("close");
      const group = groupName("close");
      await createTopics([topic], 1);
      await publisher.publish([message(topic, "k", "first")]);

      // given a batch that is still being handled
      let release = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      const events: string[] = [];
      const first = await record(subscriber, group, [topic], async (batch, subscription) => {
        await released;
        const last = batch.messages[batch.messages.length - 1];
        await subscription.commit([{
          topic,
          partition: batch.partition,
          offset: String(BigInt(last.offset) + 1n),
        }]);
        events.push("batch handled");
      });
      try {
        await waitFor("the first message", () => first.messages.length >= 1);

        // when the subscription closes, it resolves only after that batch
        const closing = first.subscription.close().then(() => void events.push("closed"));
        // A round trip to the server while the batch is held: a close that does not wait resolves meanwhile.
        await admin.retentionMs([topic]);
        events.push("batch released");
        release();
        await closing;
        assert.deepEqual(events, ["batch released", "batch handled", "closed"], "close waited for the batch");
      } finally {
        release();
      }

      // then the group goes on with what follows. Whether a commit made while closing counts differs (kafkajs
      // drops it once the member is stopping), so "first" may come again: at-least-once either way.
      await publisher.publish([message(topic, "k", "second")]);
      const second = await record(subscriber, group, [topic]);
      const values = (await upToMarkers(publisher, second, topic, ["k"])).map((m) => m.value);
      await second.subscription.close();
      assert.ok(
        ["first,second", "second"].includes(values.join(",")),
        `resumed in order after the close: ${values}`,
      );
    }));

  Deno.test(
    `${name}: publishing to a topic that does not exist rejects as UNKNOWN_TOPIC_OR_PARTITION (no implicit creation)`,
    () =>
      withTransport(async ({ publisher, admin }) => {
        const { topic: topicName } = names();
        const missing = topicName("missing");
        // Bounded: the relay must learn of it soon, not after minutes of retries.
        const error = await rejection(publisher.publish([message(missing, "k", "v")]), 20_000);
        assertRejected(error, "UNKNOWN_TOPIC_OR_PARTITION");
        assert.deepEqual(await admin.retentionMs([missing]), new Map(), "the topic was not created");
      }),
  );

  Deno.test(
    `${name}: a batch with a message for a missing topic rejects as UNKNOWN_TOPIC_OR_PARTITION, and the topic that exists still takes messages`,
    () =>
      withTransport(async ({ publisher, subscriber, createTopics }) => {
        const { topic: topicName, group } = names();
        const existing = topicName("existing");
        const missing = topicName("missing");
        await createTopics([existing], 1);
        const error = await rejection(
          publisher.publish([message(existing, "k", "beside"), message(missing, "k", "v")]),
          20_000,
        );
        assertRejected(error, "UNKNOWN_TOPIC_OR_PARTITION");

        await publisher.publish([message(existing, "k", "after")]);
        const recorder = await record(subscriber, group("reader"), [existing]);
        await waitFor(
          "the message published after the refusal",
          () => recorder.messages.some((m) => m.value === "after"),
        );
        await recorder.subscription.close();
        // Whether "beside" was written with the refused batch depends on the transport (at-least-once).
        assert.ok(
          ["beside,after", "after"].includes(recorder.messages.map((m) => m.value).join(",")),
          `only the messages of the existing topic, in order: ${recorder.messages.map((m) => m.value)}`,
        );
      }),
  );

  Deno.test(
    `${name}: a message over the size limit rejects as MESSAGE_TOO_LARGE, alone or in a batch, and the next publish goes through`,
    () =>
      withTransport(async ({ publisher, subscriber, createTopics }) => {
        const { topic: topicName, group } = names();
        const topic = topicName("too-large");
        await createTopics([topic], 1);
        const large = message(topic, "k", incompressible(20_000));
        for (
          const batch of [[large], [message(topic, "a", "fits-1"), large, message(topic, "b", "fits-2")]]
        ) {
          assertRejected(await rejection(publisher.publish(batch)), "MESSAGE_TOO_LARGE");
        }

        await publisher.publish([message(topic, "k", "after")]);
        const recorder = await record(subscriber, group("reader"), [topic]);
        await waitFor(
          "the message published after the refusals",
          () => recorder.messages.some((m) => m.value === "after"),
        );
        await recorder.subscription.close();
        // The large message never arrives; those beside it may have (the caller then publishes them one by one).
        assert.ok(
          recorder.messages.every((m) => m.value.length < 1000),
          "the large message was not delivered",
        );
        assert.equal(recorder.messages.at(-1)?.value, "after");
      }, { maxMessageBytes: 10_000 }),
  );

  Deno.test(`${name}: a commit below the group's committed position does not move it back`, () =>
    withTransport(async ({ publisher, subscriber, createTopics }) => {
      const { topic: topicName, group: groupName } = names();
      const topic = topicName("backwards");
      const group = groupName("backwards");
      await createTopics([topic], 1);
      await publisher.publish(Array.from({ length: 10 }, (_, i) => message(topic, "k", `m${i}`)));

      // given a member that committed offset 8, then (a late commit) offset 3
      const first = await record(subscriber, group, [topic]);
      await waitFor("m0..m9", () => first.messages.length >= 10);
      await first.subscription.commit([{ topic, partition: 0, offset: "8" }]);
      await first.subscription.commit([{ topic, partition: 0, offset: "3" }]);
      await first.subscription.close();

      // then a fresh member of the group starts at m8
      const second = await record(subscriber, group, [topic]);
      const received = await upToMarkers(publisher, second, topic, ["k"]);
      await second.subscription.close();
      assert.deepEqual(received.map((m) => m.value), ["m8", "m9"]);
    }));

  Deno.test(`${name}: a member's commit of a partition it does not consume is ignored`, () =>
    withTransport(async ({ publisher, subscriber, createTopics }) => {
      const { topic: topicName, group: groupName } = names();
      const consumed = topicName("consumed");
      const other = topicName("other");
      const group = groupName("owner");
      await createTopics([consumed, other], 1);
      await publisher.publish([message(consumed, "k", "c0")]);
      await publisher.publish(Array.from({ length: 5 }, (_, i) => message(other, "k", `o${i}`)));

      // given a member of the group on `consumed` that commits a position on `other`
      const first = await record(subscriber, group, [consumed]);
      await waitFor("c0", () => first.messages.length >= 1);
      await first.subscription.commit([{ topic: other, partition: 0, offset: "3" }]);
      await first.subscription.close();

      // then the group has no position on `other`: a member of it there starts at the beginning
      const second = await record(subscriber, group, [other]);
      const received = await upToMarkers(publisher, second, other, ["k"]);
      await second.subscription.close();
      assert.deepEqual(received.map((m) => m.value), ["o0", "o1", "o2", "o3", "o4"]);
    }));

  Deno.test(
    `${name}: retentionMs reports how long a message may live (retention, plus a segment on Kafka), null when kept forever, and leaves out missing topics`,
    async () => {
      for (const retentionMs of [3_600_000, null]) {
        await withTransport(async ({ admin, createTopics }) => {
          const { topic: topicName } = names();
          const topic = topicName("retention");
          await createTopics([topic], 1);
          const reported = await admin.retentionMs([topic, topicName("missing")]);
          assert.deepEqual([...reported.keys()], [topic]);
          const lifetime = reported.get(topic);
          if (retentionMs === null) assert.equal(lifetime, null);
          else {
            // Kafka deletes whole segments (10 minutes in this suite); the in-process log deletes by age.
            assert.ok(
              lifetime !== null && lifetime !== undefined && lifetime >= retentionMs &&
                lifetime <= retentionMs + 600_000,
              `lifetime ${lifetime} for retention ${retentionMs}`,
            );
          }
        }, { retentionMs });
      }
    },
  );
}
