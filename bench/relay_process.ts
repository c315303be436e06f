/**
 * bin/relay.ts with the Kafka client chosen by BENCH_KAFKA_CLIENT (kafkajs | platformatic): the same
 * composition, so the benchmark can spawn relays of either client until bin/wiring.ts can choose one itself.
 */
import { PostgresOutboxSource } from "../adapters/postgres/outbox_store.ts";
import { startRelay } from "../outbox/relay.ts";
import { boot, openDatabase, outboxSettings, shutdownSignal } from "../bin/wiring.ts";
import { type ClientName, openTransport } from "./common.ts";

const { config, logger } = boot("relay");
const client = (Deno.env.get("BENCH_KAFKA_CLIENT") ?? "kafkajs") as ClientName;
const db = await openDatabase(config);
const source = new PostgresOutboxSource(db, outboxSettings(config));
await source.listen();
const transport = await openTransport(client, "outbox-relay");
const relay = startRelay({
  source,
  publisher: transport,
  batchSize: config.RELAY_BATCH_SIZE,
  concurrency: config.RELAY_CONCURRENCY,
  pollIntervalMs: config.RELAY_POLL_MS,
  logger,
});

const signal = await shutdownSignal();
logger.info("stopping: finishing the batches in flight", { signal, client });
await relay.stop();
await source.close();
await transport.close();
await db.close();
Deno.exit(0);
