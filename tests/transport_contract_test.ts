/** The transport contract run against both Kafka adapters on the real broker, and the in-process transport. */
import { InProcessTransport } from "../adapters/inprocess/transport.ts";
import { KafkajsTransport, type KafkaSettings, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import type { Publisher, Subscriber } from "../outbox/ports.ts";
import { openEmbedded, openPostgres, type TestDb } from "./contracts/adapters.ts";
import {
  type TopicLimits,
  transportContract,
  type TransportUnderTest,
} from "./contracts/transport_contract.ts";
import { env, testLogger } from "./helpers.ts";

/** The limits as Kafka topic configs. */
function topicConfigs(limits: TopicLimits): Record<string, string> {
  const configs: Record<string, string> = {};
  if (limits.maxMessageBytes !== undefined) configs["max.message.bytes"] = String(limits.maxMessageBytes);
  if (limits.retentionMs !== undefined) configs["retention.ms"] = String(limits.retentionMs ?? -1);
  // Segments of 10 minutes: a message lives up to retention.ms + segment.ms, which retentionMs reports.
  if (limits.retentionMs !== undefined) configs["segment.ms"] = "600000";
  return configs;
}

function kafkaUnderTest(
  transport: Publisher & Subscriber & { close(): Promise<void> },
  limits: TopicLimits,
): TransportUnderTest {
  const admin = new KafkaTopics({ brokers: env.brokers });
  return {
    publisher: transport,
    subscriber: transport,
    admin,
    async createTopics(topics, partitions) {
      const configs = topicConfigs(limits);
      await admin.ensure(topics.map((topic) => ({ topic, partitions, configs })));
    },
    close: () => transport.close(),
  };
}

const settings: KafkaSettings = { brokers: env.brokers, clientId: "transport-contract", logger: testLogger };

transportContract(
  "kafkajs",
  (limits) => Promise.resolve(kafkaUnderTest(new KafkajsTransport(settings), limits)),
);
transportContract(
  "platformatic",
  (limits) => Promise.resolve(kafkaUnderTest(new PlatformaticTransport(settings), limits)),
);

/** The in-process transport on a database of its own; `dispose` ends what the test opened around it. */
function inProcessUnderTest(
  db: TestDb,
  limits: TopicLimits,
  dispose: () => Promise<void>,
): TransportUnderTest {
  const transport = new InProcessTransport(db, { pollIntervalMs: 50, ...limits });
  return {
    publisher: transport,
    subscriber: transport,
    admin: transport,
    async createTopics(topics, partitions) {
      await transport.ensure(topics.map((topic) => ({ topic, partitions })));
    },
    async close() {
      try {
        await transport.close();
      } finally {
        await dispose();
      }
    },
  };
}

transportContract("in-process on PGlite", async (limits) => {
  const db = await openEmbedded();
  return inProcessUnderTest(db, limits, () => db[Symbol.asyncDispose]());
});

// What `deno task start` uses with only DATABASE_URL set: the log in PostgreSQL, a schema of its own per test.
transportContract("in-process on PostgreSQL", async (limits) => {
  const db = await openPostgres();
  return inProcessUnderTest(db, limits, () => db[Symbol.asyncDispose]());
});
