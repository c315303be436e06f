import { KafkajsTransport } from "../adapters/kafka/kafkajs.ts";
import { PostgresOutboxWriter } from "../adapters/postgres/outbox_store.ts";
import { createEnvelope } from "../outbox/envelope.ts";
import type { ReceivedMessage, Subscription } from "../outbox/ports.ts";
import { env, eventually, freePort, spawnProcess, testDatabase, testTopics, uniqueId } from "./helpers.ts";

Deno.test("a relay that polls every 10 minutes publishes a row within seconds of its commit: the commit's NOTIFY wakes it", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(2, "notified");
  const append = async (seq: number) => {
    const event = createEnvelope({
      eventType: "Counted",
      aggregateType: "counter",
      aggregateId: `key-${seq}`,
      payload: { seq },
    });
    await db.transaction((tx) =>
      new PostgresOutboxWriter(tx, { channel: `outbox_${db.schema}` }).append(topic, [event])
    );
    return event.eventId;
  };
  const transport = new KafkajsTransport({ brokers: env.brokers });
  const received: ReceivedMessage[] = [];
  const onTopic = (eventId: string) => () =>
    Promise.resolve(received.some((message) => message.headers["event-id"] === eventId));
  let subscription: Subscription | undefined;
  let relay: ReturnType<typeof spawnProcess> | undefined;
  try {
    subscription = await transport.subscribe({
      group: `reader-${uniqueId()}`,
      topics: [topic],
      onBatch: (batch) => {
        received.push(...batch.messages);
        return Promise.resolve();
      },
    });

    // given a relay whose poll fallback is 10 minutes, idle once its first claim published the row waiting
    const waiting = await append(1);
    relay = spawnProcess("relay", {
      DATABASE_SCHEMA: db.schema,
      NAME_PREFIX: topic.slice(0, topic.indexOf(".")),
      KAFKA_BROKERS: env.brokers.join(","),
      METRICS_PORT: String(freePort()),
      RELAY_POLL_MS: "600000",
    });
    await eventually(onTopic(waiting), Boolean, {
      timeoutMs: 60_000,
      what: "the row written before the relay started to be published by its first claim",
    });

    // when a row commits while the relay waits
    const committed = await append(2);

    // then it reaches the topic within seconds, long before the next poll
    await eventually(onTopic(committed), Boolean, {
      timeoutMs: 15_000,
      what: "the row committed while the relay waited to reach the topic (its poll is 10 minutes away)",
    });
  } finally {
    await relay?.stop();
    await subscription?.close();
    await transport.close();
  }
});
