/**
 * The producer settings (KAFKA_ACKS, KAFKA_IDEMPOTENT, KAFKA_RETRIES, KAFKA_RETRY_BASE_MS/MAX_MS,
 * KAFKA_COMPRESSION) as both Kafka adapters apply them, checked on what reaches the broker: each codec a client
 * supports, with a value only a compressed batch fits in its topic; acks as sent on the wire and idempotence
 * as the broker stored it; and the time a publish the broker keeps refusing takes to fail.
 */
import assert from "node:assert/strict";
import {
  type Compression,
  kafkajsCompressions,
  KafkajsTransport,
  type KafkaSettings,
  KafkaTopics,
  type ProducerSettings,
} from "../adapters/kafka/kafkajs.ts";
import { platformaticCompressions, PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import { MessageRejectedError } from "../outbox/errors.ts";
import type { Publisher, ReceivedMessage, Subscriber, TransportMessage } from "../outbox/ports.ts";
import { kafkaClientCompressions } from "../bin/config.ts";
import { env, readTopic, testLogger, testTopics, uniqueId } from "./helpers.ts";
import { produceRequest, requestsWrittenDuring, storedBatches } from "./kafka_wire.ts";

type Transport = Publisher & Subscriber & { close(): Promise<void> };

const clients = {
  kafkajs: {
    codecs: kafkajsCompressions,
    open: (settings: KafkaSettings): Transport => new KafkajsTransport(settings),
  },
  platformatic: {
    codecs: platformaticCompressions,
    open: (settings: KafkaSettings): Transport => new PlatformaticTransport(settings),
  },
};

function settingsWith(producer: Partial<ProducerSettings>): KafkaSettings {
  return { brokers: env.brokers, clientId: "producer-settings", logger: testLogger, producer };
}

/** The limited topics' largest record batch: far below `compressible` uncompressed, far above it compressed. */
const maxMessageBytes = 50_000;

/** About 240 KB of event-like JSON that every codec shrinks to a few KB. */
const compressible = JSON.stringify(
  Array.from({ length: 4_000 }, (_, i) => ({ type: "LikeAdded", userId: `user-${i % 50}`, videoId: "v-1" })),
);

/** A one-partition topic (and its .dlq) that refuses record batches over `maxMessageBytes`. */
async function limitedTopic(): Promise<string> {
  const topic = `t${uniqueId()}.limited`;
  await new KafkaTopics({ brokers: env.brokers }).ensure([
    { topic, partitions: 1, configs: { "max.message.bytes": String(maxMessageBytes) } },
  ]);
  return topic;
}

/**
 * Reads `count` messages of `topic` from the beginning: with readTopic (kafkajs) where kafkajs decodes the
 * codec, else with a throw-away group of the @platformatic/kafka transport.
 */
async function readBack(topic: string, count: number, codec: Compression): Promise<ReceivedMessage[]> {
  if (kafkajsCompressions.includes(codec)) {
    return await readTopic(topic, (messages) => messages.length >= count);
  }
  const transport = new PlatformaticTransport({ brokers: env.brokers, logger: testLogger });
  const messages: ReceivedMessage[] = [];
  let enough = () => {};
  const done = new Promise<void>((resolve) => (enough = resolve));
  const subscription = await transport.subscribe({
    group: `reader-${uniqueId()}`,
    topics: [topic],
    onBatch: (batch) => {
      messages.push(...batch.messages);
      if (messages.length >= count) enough();
      return Promise.resolve();
    },
  });
  const timer = setTimeout(enough, 30_000);
  await done;
  clearTimeout(timer);
  await subscription.close();
  await transport.close();
  return messages;
}

const same = (message: ReceivedMessage) => ({
  key: message.key,
  value: message.value,
  headers: message.headers,
});

for (const [client, { codecs, open }] of Object.entries(clients)) {
  Deno.test(`${client}: the codecs the configuration accepts for KAFKA_CLIENT=${client} are those its adapter has`, () => {
    assert.deepEqual(kafkaClientCompressions[client as keyof typeof clients], codecs);
  });

  for (const codec of codecs.filter((codec) => codec !== "none")) {
    Deno.test(`${client}: with ${codec}, a value too large for its topic uncompressed is published and read back intact`, async () => {
      const topic = await limitedTopic();
      const publisher = open(settingsWith({ compression: codec }));
      const sent: TransportMessage[] = [
        { topic, key: "video-1", value: compressible, headers: { "event-type": "LikeAdded" } },
        { topic, key: "video-1", value: "small", headers: { "event-type": "LikeRemoved" } },
      ];
      try {
        // when a batch with a ~240 KB value goes to a topic taking batches of at most 50 000 bytes
        assert.ok(compressible.length > 4 * maxMessageBytes);
        await publisher.publish(sent);
      } finally {
        await publisher.close();
      }

      // then the broker took it (only a compressed batch fits), and a consumer reads both messages as sent
      const received = await readBack(topic, 2, codec);
      assert.deepEqual(received.map(same), sent.map(({ topic: _, ...message }) => message));
    });
  }

  Deno.test(`${client}: uncompressed (the default), the same value is refused as too large and a small one arrives`, async () => {
    const topic = await limitedTopic();
    const publisher = open(settingsWith({}));
    try {
      // when the ~240 KB value is published without compression, then the broker refuses it for its size:
      // the limit the compressed publishes above pass is real
      await assert.rejects(
        publisher.publish([{ topic, key: "video-1", value: compressible, headers: {} }]),
        (error) => error instanceof MessageRejectedError && /MESSAGE_TOO_LARGE/.test(error.message),
      );
      // and a small message is published and read back
      await publisher.publish([{ topic, key: "video-1", value: "small", headers: { h: "1" } }]);
    } finally {
      await publisher.close();
    }
    const received = await readBack(topic, 1, "none");
    assert.deepEqual(received.map(same), [{ key: "video-1", value: "small", headers: { h: "1" } }]);
  });

  Deno.test(`${client}: the adapter refuses a codec it lacks and an idempotent producer with acks other than all`, () => {
    for (const codec of (["snappy", "lz4", "zstd"] as const).filter((codec) => !codecs.includes(codec))) {
      assert.throws(() => open(settingsWith({ compression: codec })), new RegExp(`no ${codec} codec`));
    }
    assert.throws(() => open(settingsWith({ acks: 1 })), /idempotent producer needs acks -1/);
  });

  for (const acks of [1, 0] as const) {
    Deno.test(`${client}: without idempotence and with acks ${acks}, requests ask for acks ${acks} and records carry no producer id`, async () => {
      // acks 0 lets the broker drop a send without telling (a freshly created topic's partition not serving
      // yet): up to three fresh topics, until the two records are stored.
      for (let attempt = 1;; attempt++) {
        const [topic] = await testTopics(1, "acks");
        const publisher = open(settingsWith({ idempotent: false, acks }));
        try {
          // when two messages are published
          const frames = await requestsWrittenDuring(() =>
            publisher.publish([
              { topic, key: "k", value: "a", headers: {} },
              { topic, key: "k", value: "b", headers: {} },
            ])
          );

          // then each Produce request for the topic asked for the configured acks
          const requested = frames.flatMap((frame) => produceRequest(frame) ?? []).filter((r) =>
            r.topic === topic
          );
          assert.ok(requested.length >= 1, "a Produce request for the topic");
          assert.deepEqual(requested.map((r) => r.acks), requested.map(() => acks));
          // and the broker stored the records without a producer id (-1: not idempotent). Read before the
          // producer closes: with acks 0 nothing waits for the broker.
          let stored;
          try {
            stored = await storedBatches(topic, 2, 10_000);
          } catch (error) {
            if (acks === 0 && attempt < 3) continue;
            throw error;
          }
          assert.deepEqual(
            stored.map((r) => ({ value: r.value, producerId: String(r.batch.producerId) })),
            [{ value: "a", producerId: "-1" }, { value: "b", producerId: "-1" }],
          );
          break;
        } finally {
          await publisher.close();
        }
      }
    });
  }

  Deno.test(`${client}: a publish the broker keeps refusing fails after the configured retries and backoff`, async () => {
    // given a missing topic: the broker answers UNKNOWN_TOPIC_OR_PARTITION, which the client retries
    const missing = () => [{ topic: `t${uniqueId()}.missing`, key: "k", value: "v", headers: {} }];
    const failureMs = async (producer: Partial<ProducerSettings>) => {
      const publisher = open(settingsWith(producer));
      const started = Date.now();
      try {
        await assert.rejects(publisher.publish(missing()), /UNKNOWN_TOPIC_OR_PARTITION/);
        return Date.now() - started;
      } finally {
        await publisher.close();
      }
    };

    // when retried 4 times with delays from 100 ms capped at 100 ms, and twice 1 500 ms apart
    const quick = await failureMs({ retries: 4, retryBaseMs: 100, retryMaxMs: 100 });
    const slow = await failureMs({ retries: 2, retryBaseMs: 1_500, retryMaxMs: 1_500 });

    // then each fails after about the sum of its delays (kafkajs adds ±20% jitter to each): 400 ms (the
    // defaults would take 3 s, an ignored cap 1.5 s), and 3 000 ms (the default delays would take 0.6 s, the
    // default 5 retries 7.5 s)
    assert.ok(quick < 900, `4 retries of 100 ms failed after ${quick} ms`);
    assert.ok(slow >= 2_000 && slow < 5_000, `2 retries of 1 500 ms failed after ${slow} ms`);
  });
}
