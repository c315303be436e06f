/** `deno task relay`: publishes committed outbox rows to Kafka. Several may run at once. */
import { relayProcess } from "./parts.ts";
import { boot, kafkaTransport, openDatabase, shutdownSignal } from "./wiring.ts";

const { config, logger } = boot("relay");
const db = await openDatabase(config);
const transport = kafkaTransport(config, logger);
const { relay, source } = await relayProcess({ db, publisher: transport, config, logger });

const signal = await shutdownSignal();
logger.info("stopping: finishing the batches in flight", { signal });
await relay.stop();
await source.close();
await transport.close();
await db.close();
Deno.exit(0);
