/**
 * The naive relay, a reference point: polls every second, then sends one row at a time (select the oldest
 * row, send it with acks=all through an idempotent kafkajs producer, delete it) until the outbox is empty.
 * Run as a process: DATABASE_SCHEMA names the schema; SIGTERM stops it and it prints `naive relay stopped`.
 */
import { Buffer } from "node:buffer";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { connectPostgres } from "../../adapters/postgres/postgres_js.ts";

const schema = Deno.env.get("DATABASE_SCHEMA") ?? "public";
const db = await connectPostgres(
  Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres",
  {
    schema,
    max: 2,
  },
);
const kafka = new Kafka({
  clientId: "naive-relay",
  brokers: (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(","),
  logLevel: logLevel.ERROR,
});
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();

let stopping = false;
let sent = 0;
Deno.addSignalListener("SIGTERM", () => (stopping = true));
console.error(JSON.stringify({ msg: "naive relay started", schema }));

interface Row {
  id: string;
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string> | string;
}

while (!stopping) {
  const rows = await db.query<Row>(
    "select id::text as id, topic, key, value, headers from outbox order by outbox.id limit 1",
  );
  if (rows.length === 0) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    continue;
  }
  const row = rows[0];
  const headers: Record<string, Buffer> = {};
  const rowHeaders = typeof row.headers === "string" ? JSON.parse(row.headers) : row.headers;
  for (const [name, value] of Object.entries<string>(rowHeaders)) headers[name] = Buffer.from(value);
  await producer.send({
    topic: row.topic,
    acks: -1,
    messages: [{ key: Buffer.from(row.key), value: Buffer.from(row.value), headers }],
  });
  await db.query("delete from outbox where id = $1::bigint", [row.id]);
  sent++;
}

await producer.disconnect();
await db.close();
console.error(JSON.stringify({ msg: "naive relay stopped", published: sent }));
Deno.exit(0);
