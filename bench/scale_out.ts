/**
 * Scenario 3, scale-out: 1, 2 and 4 relay processes (bin/relay.ts) over one outbox of N committed rows: events/s,
 * and per-key order checked by reading the topic back (each key's sequence numbers must never go down).
 */
import {
  type ClientName,
  cpuDelta,
  cpuSnapshot,
  type CpuUsage,
  createSchema,
  createTopics,
  deleteTopics,
  insertOutboxRows,
  OffsetProbe,
  outboxEmpty,
  progress,
  progressEvery,
  publishedByRelay,
  rate,
  readTopic,
  sleep,
  type Spawned,
  spawnRelay,
} from "./common.ts";

/** Options of the scale-out scenario. */
export interface ScaleOutOptions {
  readonly count: number;
  readonly relays: readonly number[];
  readonly clients: readonly ClientName[];
  readonly partitions: number;
}

/** Per-key order as read back from the topic. */
export interface OrderCheck {
  /** Messages read. */
  readonly read: number;
  /** Distinct event ids read. */
  readonly unique: number;
  /** Messages whose event id was already read (at-least-once redeliveries). */
  readonly duplicates: number;
  /** First deliveries whose sequence number is lower than one already read for the same key. */
  readonly violations: number;
  readonly keys: number;
}

/** One scale-out run. */
export interface ScaleOutRun {
  readonly client: ClientName;
  readonly relays: number;
  readonly count: number;
  readonly acknowledged: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly complete: boolean;
  /** Rows each relay process said it published. */
  readonly perRelay: number[];
  readonly order: OrderCheck;
  readonly cpu: CpuUsage;
}

/** What the scale-out scenario reports. */
export interface ScaleOutResult {
  readonly runs: ScaleOutRun[];
  readonly errors: string[];
}

const scope = "scale-out";

/** Checks per-key order of messages read in partition order. */
export function checkOrder(
  messages: readonly { key: string; value: string; headers: Record<string, string> }[],
) {
  const seen = new Set<string>();
  const last = new Map<string, number>();
  let duplicates = 0;
  let violations = 0;
  for (const message of messages) {
    const id = message.headers["event-id"];
    if (seen.has(id)) {
      duplicates++;
      continue;
    }
    seen.add(id);
    const seq = Number(JSON.parse(message.value).payload.seq);
    if (seq < (last.get(message.key) ?? 0)) violations++;
    else last.set(message.key, seq);
  }
  return { read: messages.length, unique: seen.size, duplicates, violations, keys: last.size };
}

async function run(client: ClientName, relays: number, options: ScaleOutOptions): Promise<ScaleOutRun> {
  const { count } = options;
  const label = `${relays} relay${relays > 1 ? "s" : ""} (${client})`;
  const schema = await createSchema("scale", 12);
  const [topic] = await createTopics(options.partitions, "scale");
  const processes: Spawned[] = [];
  const probe = new OffsetProbe();
  try {
    for (let i = 0; i < relays; i++) {
      processes.push(await spawnRelay(client, schema.name, `scale-relay-${client}`));
    }
    progress(scope, `${label}: inserting ${count} rows in one transaction`);
    const committedAt = await insertOutboxRows(schema, topic, count);
    const before = await cpuSnapshot({ relays: processes.map((p) => p.pid) });
    let acknowledged = 0;
    let complete = false;
    while ((performance.now() - committedAt) / 1000 < 600) {
      acknowledged = await probe.endOffsets(topic);
      if (acknowledged >= count && (await outboxEmpty(schema.db))) {
        complete = true;
        break;
      }
      const elapsed = (performance.now() - committedAt) / 1000;
      progressEvery(scope, () => `${label}: ${acknowledged}/${count}, ${rate(acknowledged, elapsed)}/s`);
      await sleep(acknowledged >= count * 0.9 ? 20 : 100);
    }
    const seconds = (performance.now() - committedAt) / 1000;
    const after = await cpuSnapshot({ relays: processes.map((p) => p.pid) });
    const perRelay: number[] = [];
    for (const process of processes) {
      await process.stop("SIGTERM");
      perRelay.push(await publishedByRelay(process));
    }
    progress(scope, `${label}: ${rate(acknowledged, seconds)}/s; reading the topic back`);
    const order = checkOrder(await readTopic(topic, acknowledged));
    progress(scope, `${label}: ${order.violations} order violations, ${order.duplicates} duplicates`);
    return {
      client,
      relays,
      count,
      acknowledged,
      seconds: Math.round(seconds * 1000) / 1000,
      eventsPerSecond: rate(acknowledged, seconds),
      complete,
      perRelay,
      order,
      cpu: cpuDelta(before, after),
    };
  } finally {
    await probe.close();
    for (const process of processes) await process.stop("SIGTERM");
    await schema.drop();
    await deleteTopics([topic]);
  }
}

/** Runs scenario 3. */
export async function runScaleOut(options: ScaleOutOptions): Promise<ScaleOutResult> {
  const runs: ScaleOutRun[] = [];
  const errors: string[] = [];
  for (const client of options.clients) {
    for (const relays of options.relays) {
      try {
        runs.push(await run(client, relays, options));
      } catch (error) {
        const message = `${relays} relays (${client}): ${
          error instanceof Error ? error.message : String(error)
        }`;
        progress(scope, `FAILED ${message}`);
        errors.push(message);
      }
    }
  }
  return { runs, errors };
}
