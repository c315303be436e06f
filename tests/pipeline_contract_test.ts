import { InProcessTransport } from "../adapters/inprocess/transport.ts";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import { openEmbedded, openPostgres } from "./contracts/adapters.ts";
import { pipelineContract, type Stack } from "./contracts/pipeline_contract.ts";
import { env } from "./helpers.ts";

/** PostgreSQL and a Kafka adapter, topics created with the admin client. */
async function kafkaStack(kafka: KafkajsTransport | PlatformaticTransport): Promise<Stack> {
  const db = await openPostgres();
  const topics = new KafkaTopics({ brokers: env.brokers });
  return {
    db,
    concurrentRelay: true,
    transport: Object.assign(kafka, { ensure: topics.ensure.bind(topics) }),
    lag: (group, topic) => topics.lag(group, topic),
    async close() {
      await kafka.close();
      await db[Symbol.asyncDispose]();
    },
  };
}

pipelineContract(
  "PostgreSQL + Kafka (kafkajs)",
  () => kafkaStack(new KafkajsTransport({ brokers: env.brokers })),
);
pipelineContract(
  "PostgreSQL + Kafka (@platformatic/kafka)",
  () => kafkaStack(new PlatformaticTransport({ brokers: env.brokers })),
);

pipelineContract("PGlite + in-process transport", async () => {
  const db = await openEmbedded();
  const transport = new InProcessTransport(db, { pollIntervalMs: 50 });
  return {
    db,
    concurrentRelay: false,
    transport,
    lag: (group, topic) => transport.lag(group, topic),
    async close() {
      await transport.close();
    },
  };
});

pipelineContract("PostgreSQL + in-process transport", async () => {
  const db = await openPostgres();
  const transport = new InProcessTransport(db, { pollIntervalMs: 50 });
  return {
    db,
    concurrentRelay: true,
    transport,
    lag: (group, topic) => transport.lag(group, topic),
    async close() {
      await transport.close();
      await db[Symbol.asyncDispose]();
    },
  };
});
