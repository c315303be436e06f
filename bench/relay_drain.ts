/**
 * Scenario 1, relay drain: N committed outbox rows, then the time until Kafka acknowledged all of them, for our
 * relay (bin/relay.ts spawned) and its references in the same run: Kafka's own ProducerPerformance, a naive
 * one-row-at-a-time relay, and pg-transactional-outbox in polling mode.
 */
import {
  type ClientName,
  cpuDelta,
  cpuSnapshot,
  type CpuUsage,
  createSchema,
  createTopics,
  deleteTopics,
  env,
  insertOutboxRows,
  OffsetProbe,
  outboxEmpty,
  progress,
  progressEvery,
  rate,
  repoRoot,
  resultsDir,
  sleep,
  spawnDeno,
  type Spawned,
  spawnLogged,
  spawnRelay,
  waitForLog,
  waitUntil,
  wireSizes,
} from "./common.ts";
import { insertPeerRows, peerPending } from "./peers/ptxo_rows.ts";
import { newestProfile, type ProfileSummary, summarizeProfile } from "./profile.ts";

/** Options of the drain scenario. */
export interface DrainOptions {
  readonly count: number;
  readonly clients: readonly ClientName[];
  /** Run-time cap of the naive relay and of pg-transactional-outbox, in seconds. */
  readonly peerCapSeconds: number;
  /** Profile the relay: always, never, or when it misses 0.6× ProducerPerformance. */
  readonly profile: "always" | "never" | "auto";
  readonly partitions: number;
}

/** One measured drain. */
export interface DrainRun {
  readonly name: string;
  readonly client?: ClientName;
  /** Rows committed. */
  readonly count: number;
  /** Records Kafka acknowledged (sum of the topic's end offsets) when the run ended. */
  readonly acknowledged: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Whether every row was acknowledged (and the outbox emptied) before the cap. */
  readonly complete: boolean;
  readonly capped: boolean;
  /** CPU seconds per process group during the drain. */
  readonly cpu: CpuUsage;
  readonly note?: string;
  readonly latencyMs?: { avg: number; p50: number; p99: number; max: number };
}

/** What the drain scenario reports. */
export interface DrainResult {
  readonly count: number;
  readonly partitions: number;
  readonly wire: { value: number; headers: number; key: number };
  readonly runs: DrainRun[];
  readonly profile?: ProfileSummary & { client: ClientName; eventsPerSecond: number };
  readonly errors: string[];
}

const scope = "drain";

/** Polls Kafka (and then the outbox) until `count` records are acknowledged or the cap is reached. */
async function measure(
  name: string,
  topic: string,
  count: number,
  committedAt: number,
  isDrained: () => Promise<boolean>,
  capSeconds: number,
): Promise<{ acknowledged: number; seconds: number; complete: boolean; capped: boolean }> {
  const probe = new OffsetProbe();
  try {
    let acknowledged = 0;
    while (true) {
      acknowledged = await probe.endOffsets(topic);
      const elapsed = (performance.now() - committedAt) / 1000;
      if (acknowledged >= count && (await isDrained())) {
        return {
          acknowledged,
          seconds: (performance.now() - committedAt) / 1000,
          complete: true,
          capped: false,
        };
      }
      if (elapsed >= capSeconds) return { acknowledged, seconds: elapsed, complete: false, capped: true };
      progressEvery(
        scope,
        () => `${name}: ${acknowledged}/${count} acknowledged, ${rate(acknowledged, elapsed)}/s`,
      );
      await sleep(acknowledged >= count * 0.9 ? 20 : 100);
    }
  } finally {
    await probe.close();
  }
}

/** Kafka's ProducerPerformance with N records of `recordSize` bytes, acks=all, idempotent. */
async function producerPerformance(count: number, recordSize: number, partitions: number): Promise<DrainRun> {
  const [topic] = await createTopics(partitions, "pp");
  const name = `ProducerPerformance ${recordSize} B`;
  progress(scope, `${name}: ${count} records`);
  try {
    const java = [
      "-Xms256m",
      "-Xmx512m",
      "-cp",
      `${repoRoot}.kafka/lib/*`,
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic",
      topic,
      "--num-records",
      String(count),
      "--record-size",
      String(recordSize),
      "--throughput",
      "-1",
      "--producer-props",
      `bootstrap.servers=${env.brokers.join(",")}`,
      "acks=all",
      "enable.idempotence=true",
    ];
    const before = await cpuSnapshot();
    // `times` prints the children's user and system CPU time after java exits.
    const process = await spawnLogged("producer-performance", "bash", [
      "-c",
      'java "$@"; code=$?; times; exit $code',
      "pp",
      ...java,
    ]);
    const status = await process.status;
    const after = await cpuSnapshot();
    const log = await process.log();
    const summary = log.match(
      /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/,
    );
    if (!status.success || !summary) {
      throw new Error(
        `ProducerPerformance failed (code ${status.code}): ${log.split("\n").slice(-8).join("\n")}`,
      );
    }
    const times = [...log.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].pop();
    const cpu = cpuDelta(before, after);
    delete cpu.bench;
    if (times) {
      cpu.java = Math.round(
        (Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4])) * 100,
      ) / 100;
    }
    const probe = new OffsetProbe();
    const acknowledged = await probe.endOffsets(topic);
    await probe.close();
    const eventsPerSecond = Math.round(Number(summary[2]));
    return {
      name,
      count,
      acknowledged,
      seconds: Math.round((count / eventsPerSecond) * 1000) / 1000,
      eventsPerSecond,
      complete: acknowledged === count,
      capped: false,
      cpu,
      latencyMs: {
        avg: Number(summary[4]),
        max: Number(summary[5]),
        p50: Number(summary[6]),
        p99: Number(summary[8]),
      },
      note: "rate as ProducerPerformance reports it (sending time, JVM start excluded); records without key",
    };
  } finally {
    await deleteTopics([topic]);
  }
}

/** Our relay: one bin/relay.ts process over a schema holding N committed rows. */
async function ourRelay(
  client: ClientName,
  count: number,
  partitions: number,
  profileDir?: string,
): Promise<DrainRun> {
  const name = profileDir ? `relay (${client}, --cpu-prof)` : `relay (${client})`;
  const schema = await createSchema("drain");
  const [topic, warmTopic] = await createTopics(partitions, "drain", "warm");
  let relay: Spawned | undefined;
  try {
    const flags = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
    relay = await spawnRelay(client, schema.name, `relay-${client}`, {}, flags);
    // Warm-up: one row to another topic, so the producer is connected before the clock starts.
    await insertOutboxRows(schema, warmTopic, 1);
    await waitUntil(() => outboxEmpty(schema.db), "the warm-up row to be published", 30_000);
    progress(scope, `${name}: inserting ${count} rows in one transaction`);
    const insertStarted = performance.now();
    const committedAt = await insertOutboxRows(schema, topic, count);
    const before = await cpuSnapshot({ relay: [relay.pid] });
    const insertSeconds = (committedAt - insertStarted) / 1000;
    progress(scope, `${name}: committed in ${insertSeconds.toFixed(1)} s; draining`);
    const outcome = await measure(name, topic, count, committedAt, () => outboxEmpty(schema.db), 600);
    const after = await cpuSnapshot({ relay: [relay.pid] });
    const run: DrainRun = {
      name,
      client,
      count,
      ...outcome,
      seconds: round3(outcome.seconds),
      eventsPerSecond: rate(outcome.acknowledged, outcome.seconds),
      cpu: cpuDelta(before, after),
      note: `insert of ${count} rows took ${
        insertSeconds.toFixed(1)
      } s (not counted); defaults: batch 500, 4 loops`,
    };
    progress(scope, `${name}: ${run.eventsPerSecond}/s (${run.seconds} s)`);
    return run;
  } finally {
    await relay?.stop("SIGTERM");
    await schema.drop();
    await deleteTopics([topic, warmTopic]);
  }
}

/** The naive relay (bench/peers/naive_relay.ts), stopped at the cap. */
async function naiveRelay(count: number, partitions: number, capSeconds: number): Promise<DrainRun> {
  const name = "naive relay (1 row at a time)";
  const schema = await createSchema("naive");
  const [topic] = await createTopics(partitions, "naive");
  let relay: Spawned | undefined;
  try {
    relay = await spawnDeno("naive-relay", "bench/peers/naive_relay.ts", {
      DATABASE_SCHEMA: schema.name,
      DATABASE_URL: env.databaseUrl,
      KAFKA_BROKERS: env.brokers.join(","),
    });
    await waitForLog(relay, "naive relay started");
    progress(scope, `${name}: inserting ${count} rows in one transaction`);
    const committedAt = await insertOutboxRows(schema, topic, count);
    const before = await cpuSnapshot({ relay: [relay.pid] });
    const outcome = await measure(name, topic, count, committedAt, () => outboxEmpty(schema.db), capSeconds);
    const after = await cpuSnapshot({ relay: [relay.pid] });
    const run: DrainRun = {
      name,
      count,
      ...outcome,
      seconds: round3(outcome.seconds),
      eventsPerSecond: rate(outcome.acknowledged, outcome.seconds),
      cpu: cpuDelta(before, after),
      note: outcome.capped
        ? `stopped at the ${capSeconds} s cap; rate = acknowledged / ${capSeconds} s`
        : undefined,
    };
    progress(scope, `${name}: ${run.eventsPerSecond}/s`);
    return run;
  } finally {
    await relay?.stop("SIGTERM");
    await schema.drop();
    await deleteTopics([topic]);
  }
}

/** pg-transactional-outbox in polling mode (bench/peers/pg_transactional_outbox.ts), stopped at the cap. */
async function peerOutbox(count: number, partitions: number, capSeconds: number): Promise<DrainRun> {
  const name = "pg-transactional-outbox 0.5.7 (polling)";
  const schema = await createSchema("ptxo");
  const [topic] = await createTopics(partitions, "ptxo");
  const peerEnv = {
    DATABASE_SCHEMA: schema.name,
    DATABASE_URL: env.databaseUrl,
    KAFKA_BROKERS: env.brokers.join(","),
    PTXO_TOPIC: topic,
  };
  const script = "bench/peers/pg_transactional_outbox.ts";
  let peer: Spawned | undefined;
  try {
    const setup = await spawnLogged("ptxo-setup", Deno.execPath(), [
      "run",
      "-A",
      "--no-lock",
      script,
      "setup",
    ], peerEnv);
    if (!(await setup.status).success) throw new Error(`peer setup failed:\n${await setup.log()}`);
    peer = await spawnLogged("ptxo", Deno.execPath(), ["run", "-A", "--no-lock", script, "run"], peerEnv);
    await waitForLog(peer, "pg-transactional-outbox started");
    progress(scope, `${name}: inserting ${count} rows in one transaction`);
    const committedAt = await insertPeerRows(schema.db, count);
    const before = await cpuSnapshot({ relay: [peer.pid] });
    const outcome = await measure(
      name,
      topic,
      count,
      committedAt,
      async () => (await peerPending(schema.db)) === 0,
      capSeconds,
    );
    const after = await cpuSnapshot({ relay: [peer.pid] });
    const run: DrainRun = {
      name,
      count,
      ...outcome,
      seconds: round3(outcome.seconds),
      eventsPerSecond: rate(outcome.acknowledged, outcome.seconds),
      cpu: cpuDelta(before, after),
      note: `batch 50 (no start-up ramp), poll 100 ms, segment = key, pools of 10${
        outcome.capped ? `; stopped at the ${capSeconds} s cap, rate = acknowledged / ${capSeconds} s` : ""
      }`,
    };
    progress(scope, `${name}: ${run.eventsPerSecond}/s`);
    return run;
  } finally {
    await peer?.stop("SIGTERM");
    await schema.drop();
    await deleteTopics([topic]);
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

async function attempt<T>(what: string, errors: string[], work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
    progress(scope, `FAILED ${message}`);
    errors.push(message);
    return undefined;
  }
}

/** Runs scenario 1. */
export async function runRelayDrain(options: DrainOptions): Promise<DrainResult> {
  const { count, partitions } = options;
  const wire = wireSizes();
  const runs: DrainRun[] = [];
  const errors: string[] = [];
  const push = (run: DrainRun | undefined) => run && runs.push(run);
  push(await attempt("ProducerPerformance", errors, () => producerPerformance(count, 200, partitions)));
  push(
    await attempt(
      "ProducerPerformance (size-matched)",
      errors,
      () => producerPerformance(count, wire.value + wire.headers, partitions),
    ),
  );
  for (const client of options.clients) {
    push(await attempt(`relay (${client})`, errors, () => ourRelay(client, count, partitions)));
  }
  push(await attempt("naive relay", errors, () => naiveRelay(count, partitions, options.peerCapSeconds)));
  push(
    await attempt(
      "pg-transactional-outbox",
      errors,
      () => peerOutbox(count, partitions, options.peerCapSeconds),
    ),
  );

  let profile: DrainResult["profile"];
  const reference = runs.find((r) => r.name === "ProducerPerformance 200 B")?.eventsPerSecond ?? 0;
  const ours = runs.filter((r) => r.client !== undefined);
  const slowest = ours.sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)[0];
  const wanted = options.profile === "always" ||
    (options.profile === "auto" && slowest && slowest.eventsPerSecond < 0.6 * reference);
  if (wanted && slowest?.client) {
    const client = slowest.client;
    const dir = `${resultsDir}/profiles/${new Date().toISOString().replace(/[:.]/g, "-")}-${client}`;
    await Deno.mkdir(dir, { recursive: true });
    progress(scope, `profiling the relay (${client}) with --cpu-prof`);
    const run = await attempt("relay profile", errors, () => ourRelay(client, count, partitions, dir));
    const file = await newestProfile(dir);
    if (run && file) {
      profile = { ...(await summarizeProfile(file)), client, eventsPerSecond: run.eventsPerSecond };
    }
  }
  return { count, partitions, wire, runs, profile, errors };
}
