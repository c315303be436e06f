/** `deno task relay`: publishes committed outbox rows to Kafka. Several may run at once. */
import { KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { Metrics } from "../adapters/metrics/prometheus.ts";
import { relayProcess, serveOps, subscriptions } from "./parts.ts";
import { boot, kafkaTransport, openDatabase, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("relay");
const db = await openDatabase(config);
const transport = kafkaTransport(config, logger);
const metrics = new Metrics({ process: "relay" });
const { relay, source } = await relayProcess({
  db,
  publisher: transport,
  config,
  logger,
  observer: metrics.relayObserver(),
});
const topics = new KafkaTopics({ brokers: config.KAFKA_BROKERS });
metrics.watchOutbox(source);
metrics.watchLag(topics, subscriptions(config));
const ops = serveOps({
  port: config.METRICS_PORT ?? 9464,
  metrics,
  logger,
  checks: { postgres: () => db.query("select 1"), kafka: () => topics.ping() },
});

const signal = await shutdownSignal();
logger.info("stopping: finishing the batches in flight", { signal });
await relay.stop();
await ops.shutdown();
await source.close();
await transport.close();
await db.close();
Deno.exit(0);
