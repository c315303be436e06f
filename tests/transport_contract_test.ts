/** The transport contract run against both Kafka adapters on the real broker. */
import { KafkajsTransport, type KafkaSettings, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import type { Publisher, Subscriber } from "../outbox/ports.ts";
import { transportContract, type TransportUnderTest } from "./contracts/transport_contract.ts";
import { env, testLogger } from "./helpers.ts";
import { InProcessTransport } from "../adapters/inprocess/transport.ts";
import { openEmbedded } from "./contracts/adapters.ts";

function kafkaUnderTest(transport: Publisher & Subscriber & { close(): Promise<void> }): TransportUnderTest {
  return {
    publisher: transport,
    subscriber: transport,
    async createTopics(topics, partitions) {
      await new KafkaTopics({ brokers: env.brokers }).ensure(topics.map((topic) => ({ topic, partitions })));
    },
    close: () => transport.close(),
  };
}

const settings: KafkaSettings = { brokers: env.brokers, clientId: "transport-contract", logger: testLogger };

transportContract("kafkajs", () => Promise.resolve(kafkaUnderTest(new KafkajsTransport(settings))));
transportContract("platformatic", () => Promise.resolve(kafkaUnderTest(new PlatformaticTransport(settings))));

transportContract("in-process on PGlite", async () => {
  const db = await openEmbedded();
  const transport = new InProcessTransport(db, { pollIntervalMs: 50 });
  return {
    publisher: transport,
    subscriber: transport,
    async createTopics(topics, partitions) {
      await transport.ensure(topics.map((topic) => ({ topic, partitions })));
    },
    close: () => transport.close(),
  };
});
