/**
 * The producer settings the README promises for both Kafka adapters, checked on what the producer does, not on
 * the options it was given: acks=-1 read from the Produce requests it writes to the broker's socket, and
 * idempotence read from the records the broker stored (a producer id and sequence numbers in their batches).
 */
import assert from "node:assert/strict";
import { KafkajsTransport, type KafkaSettings, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import type { Publisher, TransportMessage } from "../outbox/ports.ts";
import { env, testLogger, uniqueId } from "./helpers.ts";
import { produceRequest, requestsWrittenDuring, storedBatches } from "./kafka_wire.ts";

const settings: KafkaSettings = { brokers: env.brokers, clientId: "producer-contract", logger: testLogger };

const clients: [string, () => Publisher & { close(): Promise<void> }][] = [
  ["kafkajs", () => new KafkajsTransport(settings)],
  ["platformatic", () => new PlatformaticTransport(settings)],
];

async function newTopic(): Promise<string> {
  const topic = `t${uniqueId()}.producer`;
  await new KafkaTopics({ brokers: env.brokers }).ensure([{ topic, partitions: 1 }]);
  return topic;
}

const message = (topic: string, value: string): TransportMessage => ({ topic, key: "k", value, headers: {} });

for (const [name, open] of clients) {
  Deno.test(`${name}: every Produce request the publisher sends asks for acks from all in-sync replicas (acks=-1)`, async () => {
    const topic = await newTopic();
    const publisher = open();
    try {
      // when two publishes go out (the first one also connects and, idempotent, gets its producer id)
      const frames = await requestsWrittenDuring(async () => {
        await publisher.publish([message(topic, "a"), message(topic, "b")]);
        await publisher.publish([message(topic, "c")]);
      });

      // then the broker was sent Produce requests for the topic, each with acks=-1
      const produced = frames.flatMap((frame) => produceRequest(frame) ?? []).filter((request) =>
        request.topic === topic
      );
      assert.ok(produced.length >= 2, `two Produce requests for ${topic}, got ${produced.length}`);
      assert.deepEqual(
        produced.map((request) => request.acks),
        produced.map(() => -1),
        "acks of each request",
      );
    } finally {
      await publisher.close();
    }
  });

  Deno.test(`${name}: the publisher is idempotent: its records carry a producer id and numbered sequences`, async () => {
    const topic = await newTopic();
    const publisher = open();
    try {
      // when two batches are published, then one more
      await publisher.publish([message(topic, "a"), message(topic, "b")]);
      await publisher.publish([message(topic, "c")]);
    } finally {
      await publisher.close();
    }

    // then the broker stored them under a producer id it assigned (-1 without idempotence), one epoch, and the
    // sequence numbers the producer gave each record: 0 and 1 in the first batch, 2 in the next
    const records = await storedBatches(topic, 3);
    assert.deepEqual(records.map((r) => r.value), ["a", "b", "c"]);
    const producerIds = new Set(records.map((r) => r.batch.producerId));
    assert.equal(producerIds.size, 1, "one producer id");
    assert.ok(BigInt([...producerIds][0]) >= 0n, `a producer id assigned by the broker: ${[...producerIds]}`);
    assert.ok(records.every((r) => r.batch.producerEpoch >= 0), "an epoch");
    assert.deepEqual(
      records.map((r) => ({ offset: r.batch.firstOffset, sequence: r.batch.firstSequence })),
      [{ offset: "0", sequence: 0 }, { offset: "0", sequence: 0 }, { offset: "2", sequence: 2 }],
      "each batch numbered from where the previous one ended",
    );
  });
}
