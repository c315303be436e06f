import { InProcessTransport } from "../adapters/inprocess/transport.ts";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import { openEmbedded, openPostgres } from "./contracts/adapters.ts";
import { pipelineContract } from "./contracts/pipeline_contract.ts";
import { env } from "./helpers.ts";

pipelineContract("PostgreSQL + Kafka (kafkajs)", async () => {
  const db = await openPostgres();
  const kafka = new KafkajsTransport({ brokers: env.brokers });
  const topics = new KafkaTopics({ brokers: env.brokers });
  return {
    db,
    concurrentRelay: true,
    transport: Object.assign(kafka, { ensure: topics.ensure.bind(topics) }),
    async close() {
      await kafka.close();
      await db[Symbol.asyncDispose]();
    },
  };
});

pipelineContract("PGlite + in-process transport", async () => {
  const db = await openEmbedded();
  const transport = new InProcessTransport(db, { pollIntervalMs: 50 });
  return {
    db,
    concurrentRelay: false,
    transport,
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
    async close() {
      await transport.close();
      await db[Symbol.asyncDispose]();
    },
  };
});

pipelineContract("PostgreSQL + Kafka (@platformatic/kafka)", async () => {
  const db = await openPostgres();
  const kafka = new PlatformaticTransport({ brokers: env.brokers });
  const topics = new KafkaTopics({ brokers: env.brokers });
  return {
    db,
    concurrentRelay: true,
    transport: Object.assign(kafka, { ensure: topics.ensure.bind(topics) }),
    async close() {
      await kafka.close();
      await db[Symbol.asyncDispose]();
    },
  };
});
