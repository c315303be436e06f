/** `deno task relay`: publishes committed outbox rows to Kafka. Several may run at once. */
import { PostgresOutboxSource } from "../adapters/postgres/outbox_store.ts";
import { startRelay } from "../outbox/relay.ts";
import { boot, kafkaTransport, openDatabase, outboxSettings, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("relay");
const db = await openDatabase(config);
const source = new PostgresOutboxSource(db, outboxSettings(config));
await source.listen();
const transport = kafkaTransport(config, logger);
const relay = startRelay({
  source,
  publisher: transport,
  batchSize: config.RELAY_BATCH_SIZE,
  concurrency: config.RELAY_CONCURRENCY,
  pollIntervalMs: config.RELAY_POLL_MS,
  logger,
});

const signal = await shutdownSignal();
logger.info("stopping: finishing the batches in flight", { signal });
await relay.stop();
await source.close();
await transport.close();
await db.close();
Deno.exit(0);
