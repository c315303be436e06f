/** Shared pieces of the benchmark: servers, schemas, topics, processes, rows, clocks and statistics. */
import { Buffer } from "node:buffer";
import { Kafka, logLevel } from "kafkajs";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import {
  answers,
  ensureServers as ensureTestServers,
  env,
  migratedSchema,
  repoRoot,
  uniqueId,
} from "../tests/servers.ts";
import { PostgresOutboxWriter } from "../adapters/postgres/outbox_store.ts";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { createEnvelope, type Envelope } from "../outbox/envelope.ts";
import type { Publisher, ReceivedMessage, Subscriber } from "../outbox/ports.ts";
import { loadConfig } from "../bin/config.ts";
import { outboxSettings } from "../bin/infrastructure.ts";

export { answers, env, repoRoot, uniqueId };

/** Where results and process logs go. */
export const resultsDir = `${repoRoot}bench/results`;

/** The Kafka clients the harness can drive. */
export type ClientName = "kafkajs" | "platformatic";

/** A transport as the adapters provide it: publisher, subscriber, close. */
export type Transport = Publisher & Subscriber & { close(): Promise<void> };

const platformaticPath = `${repoRoot}adapters/kafka/platformatic.ts`;

/** Whether the @platformatic/kafka adapter exists in this checkout. */
export async function platformaticAvailable(): Promise<boolean> {
  try {
    return (await Deno.stat(platformaticPath)).isFile;
  } catch {
    return false;
  }
}

/** Creates a transport of the named client (the platformatic adapter is imported only when asked for). */
export async function openTransport(client: ClientName, clientId = "bench"): Promise<Transport> {
  if (client === "kafkajs") return new KafkajsTransport({ brokers: env.brokers, clientId });
  // A computed specifier: the adapter may not exist yet, and its absence must not break type checking.
  const specifier = new URL(platformaticPath, "file://").href;
  const module = await import(specifier) as {
    PlatformaticTransport: new (settings: { brokers: readonly string[]; clientId?: string }) => Transport;
  };
  return new module.PlatformaticTransport({ brokers: env.brokers, clientId });
}

let lastLine = 0;

/** Prints a progress line with the elapsed time of the run. */
export function progress(scope: string, message: string): void {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
  console.log(`${seconds}s [${scope}] ${message}`);
  lastLine = performance.now();
}

const startedAt = performance.now();

/** Prints a progress line at most every `everyMs` (for loops that poll). */
export function progressEvery(scope: string, message: () => string, everyMs = 2000): void {
  if (performance.now() - lastLine >= everyMs) progress(scope, message());
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Checks PostgreSQL and Redis, fetches Kafka's jars and tools when missing, and starts Kafka when nothing answers. */
export async function ensureServers(): Promise<void> {
  await ensureTestServers((line) => progress("setup", line), { tools: true });
}

/** What is alive now, so that an interrupted run can still clean up (see `cleanUpAll`). */
const live = { schemas: new Set<BenchSchema>(), topics: new Set<string>(), processes: new Set<Spawned>() };

/** Stops the spawned processes, drops the schemas and deletes the topics still alive (on Ctrl-C). */
export async function cleanUpAll(): Promise<void> {
  for (const process of live.processes) await process.stop("SIGKILL").catch(() => {});
  for (const schema of live.schemas) await schema.drop();
  await deleteTopics([...live.topics]);
}

/** A migrated schema of its own; `drop` removes it. */
export interface BenchSchema {
  readonly name: string;
  readonly db: SqlDatabase;
  /** NOTIFY channel of this schema's outbox, as bin/infrastructure.ts derives it. */
  readonly channel: string;
  drop(): Promise<void>;
}

/** Creates and migrates a schema `b_<scope>_<id>`. */
export async function createSchema(scope: string, pool = 20): Promise<BenchSchema> {
  const name = `b_${scope}_${uniqueId()}`;
  const db = await migratedSchema(name, pool);
  let dropped = false;
  const schema: BenchSchema = {
    name,
    db,
    channel: outboxSettings(loadConfig({ DATABASE_SCHEMA: name })).channel ?? "outbox",
    async drop() {
      if (dropped) return;
      dropped = true;
      live.schemas.delete(schema);
      await db.exec(`drop schema if exists ${name} cascade`).catch(() => {});
      await db.close().catch(() => {});
    },
  };
  live.schemas.add(schema);
  return schema;
}

function kafkaAdminClient(): Kafka {
  return new Kafka({ clientId: "bench-admin", brokers: env.brokers, logLevel: logLevel.NOTHING });
}

/** Creates topics (with their .dlq) of `partitions` partitions, named `b<id>.<base>`. */
export async function createTopics(partitions: number, ...base: string[]): Promise<string[]> {
  const prefix = `b${uniqueId()}`;
  const topics = base.map((name) => `${prefix}.${name}`);
  await new KafkaTopics({ brokers: env.brokers }).ensure(topics.map((topic) => ({ topic, partitions })));
  for (const topic of topics) live.topics.add(topic);
  return topics;
}

/** Deletes topics and their .dlq, and consumer groups; failures are ignored (clean-up is best effort). */
export async function deleteTopics(topics: readonly string[], groups: readonly string[] = []): Promise<void> {
  for (const topic of topics) live.topics.delete(topic);
  const admin = kafkaAdminClient().admin();
  try {
    await admin.connect();
    if (groups.length > 0) await admin.deleteGroups([...groups]).catch(() => {});
    const existing = new Set(await admin.listTopics());
    const doomed = topics.flatMap((t) => [t, `${t}.dlq`]).filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 10_000 });
  } catch {
    // best effort
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Sum over partitions of a topic's end offset: how many records Kafka acknowledged on it. */
export class OffsetProbe {
  readonly #admin = kafkaAdminClient().admin();
  #connected: Promise<void> | undefined;

  /** The summed end offsets of `topic`. */
  async endOffsets(topic: string): Promise<number> {
    this.#connected ??= this.#admin.connect();
    await this.#connected;
    const offsets = await this.#admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
  }

  /** Disconnects. */
  async close(): Promise<void> {
    if (this.#connected) await this.#admin.disconnect().catch(() => {});
  }
}

/** Number of distinct keys the generated events spread over. */
export const keyCount = 1000;

const filler = "x".repeat(200);

/** A generated event: key `k<i mod 1000>`, per-key sequence number, a payload of about 200 bytes. */
export function benchEnvelope(index: number, sequence: number): Envelope {
  const key = `k${index % keyCount}`;
  const payload = { seq: sequence, index, data: "" };
  const base = JSON.stringify(payload).length;
  payload.data = filler.slice(0, Math.max(0, 200 - base));
  return createEnvelope({ eventType: "BenchEvent", aggregateType: "bench", aggregateId: key, payload });
}

/** Envelopes `from..to-1` with per-key sequence numbers starting at 1 (`index / 1000 + 1`). */
export function benchEnvelopes(from: number, to: number): Envelope[] {
  const list: Envelope[] = [];
  for (let i = from; i < to; i++) list.push(benchEnvelope(i, Math.floor(i / keyCount) + 1));
  return list;
}

/**
 * Writes `count` outbox rows for `topic` in ONE transaction, through PostgresOutboxWriter, 1 000 rows per
 * statement, and analyzes the table in it; the rows become visible (and relays are notified) at the commit.
 * Resolves to the commit time.
 */
export async function insertOutboxRows(schema: BenchSchema, topic: string, count: number): Promise<number> {
  const chunk = 1000;
  await schema.db.transaction(async (tx) => {
    const writer = new PostgresOutboxWriter(tx, { channel: schema.channel });
    for (let from = 0; from < count; from += chunk) {
      await writer.append(topic, benchEnvelopes(from, Math.min(count, from + chunk)));
    }
    // Statistics that see the rows (as after autovacuum's analyze), committed with them: without this, plans
    // made while the table was empty (sequential scan and sort) stay cached and every poll reads all rows.
    if (count >= 1000) await tx.query("analyze outbox");
  });
  return performance.now();
}

/** Rows left in the schema's outbox. */
export async function outboxCount(db: SqlDatabase): Promise<number> {
  return (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n;
}

/** Whether the outbox is empty (cheaper than counting while rows are being deleted). */
export async function outboxEmpty(db: SqlDatabase): Promise<boolean> {
  return (await db.query("select 1 from outbox limit 1")).length === 0;
}

/** Mean size in bytes of the values and headers a relay sends for generated events. */
export function wireSizes(sample = 1000): { value: number; headers: number; key: number } {
  let value = 0, headers = 0, key = 0;
  for (const envelope of benchEnvelopes(0, sample)) {
    value += Buffer.byteLength(JSON.stringify(envelope));
    key += envelope.aggregateId.length;
    headers += 4 * 16 + envelope.eventId.length + envelope.eventType.length + envelope.aggregateType.length +
      1;
  }
  return {
    value: Math.round(value / sample),
    headers: Math.round(headers / sample),
    key: Math.round(key / sample),
  };
}

/** A spawned process with its log file. */
export interface Spawned {
  readonly pid: number;
  readonly logPath: string;
  /** The log so far. */
  log(): Promise<string>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Resolves when the process exits. */
  readonly status: Promise<Deno.CommandStatus>;
}

/** Spawns `command args` with `envVars`; stdout and stderr go to a log file under bench/results/logs. */
export async function spawnLogged(
  label: string,
  command: string,
  args: readonly string[],
  envVars: Record<string, string> = {},
  cwd = repoRoot,
): Promise<Spawned> {
  await Deno.mkdir(`${resultsDir}/logs`, { recursive: true });
  const logPath = `${resultsDir}/logs/${label}-${uniqueId()}.log`;
  const file = await Deno.open(logPath, { write: true, create: true, append: true });
  const child = new Deno.Command(command, {
    args: [...args],
    cwd,
    env: envVars,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
    }
  };
  const piping = Promise.all([pump(child.stdout), pump(child.stderr)]).catch(() => {}).finally(() =>
    file.close()
  );
  const status = child.status.then(async (s) => {
    await piping;
    return s;
  });
  const spawned: Spawned = {
    pid: child.pid,
    logPath,
    log: () => Promise.resolve(text),
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      return await status;
    },
    status,
  };
  live.processes.add(spawned);
  status.finally(() => live.processes.delete(spawned));
  return spawned;
}

/** Spawns `deno run -A [flags] <script>` from the repository root. */
export function spawnDeno(
  label: string,
  script: string,
  envVars: Record<string, string>,
  denoFlags: readonly string[] = [],
): Promise<Spawned> {
  return spawnLogged(label, Deno.execPath(), ["run", "-A", ...denoFlags, script], {
    LOG_FORMAT: "json",
    ...envVars,
  });
}

/** Waits until `probe` is true, or throws after `timeoutMs` naming `what`. */
export async function waitUntil(
  probe: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Waits for a line containing `text` in a spawned process's log; fails early if the process exits. */
export async function waitForLog(process: Spawned, text: string, timeoutMs = 60_000): Promise<void> {
  let exited: Deno.CommandStatus | undefined;
  process.status.then((s) => (exited = s));
  await waitUntil(
    async () => {
      if ((await process.log()).includes(text)) return true;
      if (exited) {
        const tail = (await process.log()).split("\n").slice(-15).join("\n");
        throw new Error(`${process.logPath} exited (code ${exited.code}) before "${text}":\n${tail}`);
      }
      return false;
    },
    `"${text}" in ${process.logPath}`,
    timeoutMs,
    100,
  );
}

/** Spawns a relay process (bin/relay.ts with KAFKA_CLIENT=`client`) over `schema`; waits until its loops run. */
export async function spawnRelay(
  client: ClientName,
  schema: string,
  label: string,
  extraEnv: Record<string, string> = {},
  denoFlags: readonly string[] = [],
): Promise<Spawned> {
  const relay = await spawnDeno(label, "bin/relay.ts", {
    DATABASE_SCHEMA: schema,
    DATABASE_URL: env.databaseUrl,
    KAFKA_BROKERS: env.brokers.join(","),
    KAFKA_CLIENT: client,
    METRICS_PORT: "0",
    ...extraEnv,
  }, denoFlags);
  await waitForLog(relay, '"relay started"');
  return relay;
}

/** The `published` count a relay logged when it stopped (0 when it did not say). */
export async function publishedByRelay(relay: Spawned): Promise<number> {
  const line = (await relay.log()).split("\n").find((l) => l.includes('"relay stopped"'));
  try {
    return JSON.parse(line ?? "{}").published ?? 0;
  } catch {
    return 0;
  }
}

/** Reads a topic from the beginning with a throw-away group until `expected` messages or the timeout. */
export async function readTopic(
  topic: string,
  expected: number,
  timeoutMs = 120_000,
): Promise<ReceivedMessage[]> {
  const transport = new KafkajsTransport({ brokers: env.brokers, clientId: "bench-reader" });
  const group = `bench-reader-${uniqueId()}`;
  const messages: ReceivedMessage[] = [];
  let wake = () => {};
  const done = new Promise<void>((resolve) => (wake = resolve));
  const subscription = await transport.subscribe({
    group,
    topics: [topic],
    onBatch: (batch) => {
      for (const message of batch.messages) messages.push(message);
      if (messages.length >= expected) wake();
      return Promise.resolve();
    },
  });
  const timer = setTimeout(wake, timeoutMs);
  if (messages.length >= expected) wake();
  await done;
  clearTimeout(timer);
  await subscription.close();
  await transport.close();
  await deleteTopics([], [group]);
  return messages;
}

/** Latency percentiles in milliseconds. */
export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Percentiles of a list of durations (nearest rank). */
export function percentiles(values: readonly number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return {
    count: sorted.length,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted[sorted.length - 1],
    mean,
  };
}

/** CPU seconds used per process group, from /proc (Linux only; empty elsewhere). */
export type CpuUsage = Record<string, number>;

const ticksPerSecond = 100;
const kafkaPort = env.brokers[0].split(":")[1];

async function processCpu(pid: number): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime, stime, cutime, cstime are fields 14..17 (1-based) of the full line: 11..14 after the name.
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) /
      ticksPerSecond;
  } catch {
    return 0;
  }
}

async function commandLine(pid: number): Promise<string> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** CPU seconds the whole machine was busy (all cores, from /proc/stat). */
async function machineBusy(): Promise<number> {
  try {
    const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + steal) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/**
 * Takes a CPU snapshot: named pids, every postgres process, the Kafka JVM of our port, this process, and the
 * whole machine (`machine`); `other` in a delta is what the machine spent outside the named groups (other work
 * on the machine disturbs the figures).
 */
export async function cpuSnapshot(named: Record<string, readonly number[]> = {}): Promise<CpuUsage> {
  const usage: CpuUsage = {
    machine: await machineBusy(),
    bench: await processCpu(Deno.pid),
    postgres: 0,
    kafka: 0,
  };
  for (const [name, pids] of Object.entries(named)) {
    usage[name] = 0;
    for (const pid of pids) usage[name] += await processCpu(pid);
  }
  try {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^[0-9]+$/.test(entry.name)) continue;
      const pid = Number(entry.name);
      const cmd = await commandLine(pid);
      if (cmd.startsWith("postgres")) usage.postgres += await processCpu(pid);
      else if (cmd.includes("kafka.Kafka") && cmd.includes(`/instances/${kafkaPort}/`)) {
        usage.kafka += await processCpu(pid);
      }
    }
  } catch {
    // not Linux
  }
  return usage;
}

/** CPU seconds used between two snapshots, rounded to 0.01 s. */
export function cpuDelta(before: CpuUsage, after: CpuUsage): CpuUsage {
  const delta: CpuUsage = {};
  let known = 0;
  for (const [name, value] of Object.entries(after)) {
    delta[name] = Math.round((value - (before[name] ?? 0)) * 100) / 100;
    if (name !== "machine") known += delta[name];
  }
  if (delta.machine !== undefined) delta.other = Math.max(0, Math.round((delta.machine - known) * 100) / 100);
  return delta;
}

/** Formats a number of events per second. */
export function rate(count: number, seconds: number): number {
  return seconds > 0 ? Math.round(count / seconds) : 0;
}
