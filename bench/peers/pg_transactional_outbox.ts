/**
 * The nearest TypeScript peer, pg-transactional-outbox, in polling mode, publishing each message through an
 * idempotent kafkajs producer with acks=all. Run as a process (spawned with --no-lock, so the pin below does not
 * touch deno.lock until it is added to deno.json):
 *
 *   deno run -A --no-lock bench/peers/pg_transactional_outbox.ts setup   creates its table, function, indexes
 *   deno run -A --no-lock bench/peers/pg_transactional_outbox.ts run     polls and publishes until SIGTERM
 *
 * Environment: DATABASE_URL, DATABASE_SCHEMA, KAFKA_BROKERS, PTXO_TOPIC (run), PTXO_BATCH_SIZE (default 50),
 * PTXO_POLL_MS (default 100), PTXO_POOL (default 10, connections of each of its two pools).
 */
import { Buffer } from "node:buffer";
import { Kafka, logLevel, Partitioners } from "kafkajs";
// deno-lint-ignore no-import-prefix
import * as ptxo from "npm:pg-transactional-outbox@0.5.7";
import { connectPostgres } from "../../adapters/postgres/postgres_js.ts";
import { peerFunction, peerTable } from "./ptxo_rows.ts";

const url = new URL(Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres");
const schema = Deno.env.get("DATABASE_SCHEMA") ?? "public";
const mode = Deno.args[0] ?? "run";

if (mode === "setup") {
  const db = await connectPostgres(url.href, { schema, max: 1 });
  const config = {
    outboxOrInbox: "outbox" as const,
    database: url.pathname.slice(1) || "postgres",
    schema,
    table: peerTable,
    listenerRole: "postgres",
    nextMessagesSchema: schema,
    nextMessagesName: peerFunction,
  };
  await db.exec(ptxo.DatabaseSetup.dropAndCreateTable(config));
  await db.exec(ptxo.DatabaseSetup.createPollingFunction(config));
  // Its index script names indexes without a schema: qualify nothing, the search path is the bench schema.
  await db.exec(ptxo.DatabaseSetup.setupPollingIndexes(config));
  await db.close();
  console.error(JSON.stringify({ msg: "pg-transactional-outbox setup done", schema, table: peerTable }));
  Deno.exit(0);
}

const topic = Deno.env.get("PTXO_TOPIC");
if (!topic) throw new Error("PTXO_TOPIC is required");
const pool = Number(Deno.env.get("PTXO_POOL") ?? 10);
const batchSize = Number(Deno.env.get("PTXO_BATCH_SIZE") ?? 50);
const kafka = new Kafka({
  clientId: "ptxo-relay",
  brokers: (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(","),
  logLevel: logLevel.ERROR,
});
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 5,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();

let published = 0;
const silent = () => {};
const logger = {
  fatal: silent,
  error: (...args: unknown[]) =>
    console.error(JSON.stringify({ msg: "ptxo error", detail: String(args[1]) })),
  warn: silent,
  info: silent,
  debug: silent,
  trace: silent,
  silent,
  level: "error",
};
const dbConfig = {
  host: url.hostname,
  port: Number(url.port || 5432),
  user: decodeURIComponent(url.username || "postgres"),
  password: url.password ? decodeURIComponent(url.password) : undefined,
  database: url.pathname.slice(1) || "postgres",
  max: pool,
};
const [shutdown] = ptxo.initializePollingMessageListener(
  {
    outboxOrInbox: "outbox",
    dbListenerConfig: dbConfig,
    dbHandlerConfig: dbConfig,
    settings: {
      dbSchema: schema,
      dbTable: peerTable,
      nextMessagesFunctionSchema: schema,
      nextMessagesFunctionName: peerFunction,
      nextMessagesBatchSize: batchSize,
      nextMessagesPollingIntervalInMs: Number(Deno.env.get("PTXO_POLL_MS") ?? 100),
      enableMaxAttemptsProtection: false,
      enablePoisonousMessageProtection: false,
      messageCleanupIntervalInMs: 0,
    },
  },
  {
    handle: async (message) => {
      const headers: Record<string, Buffer> = { "event-id": Buffer.from(message.id) };
      for (const [name, value] of Object.entries(message.metadata ?? {})) {
        headers[name] = Buffer.from(String(value));
      }
      await producer.send({
        topic,
        acks: -1,
        messages: [{
          key: Buffer.from(message.aggregateId),
          value: Buffer.from(JSON.stringify(message.payload)),
          headers,
        }],
      });
      published++;
    },
  },
  logger as unknown as Parameters<typeof ptxo.initializePollingMessageListener>[2],
  // The default strategy fetches one message per poll for the first `batch size` polls (poison protection);
  // a publisher of well-formed messages can take full batches at once, as its README allows.
  { batchSizeStrategy: () => Promise.resolve(batchSize) },
);
console.error(JSON.stringify({ msg: "pg-transactional-outbox started", schema, topic }));

await new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", () => resolve()));
await shutdown();
await producer.disconnect();
console.error(JSON.stringify({ msg: "pg-transactional-outbox stopped", published }));
Deno.exit(0);
