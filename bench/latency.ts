/**
 * Scenario 2, latency: writers commit likes at a fixed rate through setLike (the real write path), a relay
 * process publishes them, and a consumer started with startConsumer applies them (inbox row + like count in one
 * transaction). Commit and effect are timed in this process on one clock (performance.now()). A raw reader also
 * times commit → on the topic, which is what the peers (which have no inbox) are measured by.
 */
import { connectPostgres } from "../adapters/postgres/postgres_js.ts";
import { PostgresOutboxWriter } from "../adapters/postgres/outbox_store.ts";
import {
  interactionUnitOfWork,
  likeProjectionUnitOfWork,
} from "../adapters/postgres/interaction/unit_of_work.ts";
import { isInfrastructureError, type SqlClient } from "../adapters/postgres/sql_client.ts";
import { MemoryLikeCache } from "../adapters/memory/interaction/like_cache.ts";
import { KafkajsTransport } from "../adapters/kafka/kafkajs.ts";
import { setLike } from "../application/interaction/set_like.ts";
import { likeEvent } from "../application/interaction/like_event.ts";
import { projectLikeCounts } from "../application/interaction/project_like_counts.ts";
import type { InteractionTx, LikeProjectionTx } from "../application/interaction/ports.ts";
import { silentLogger, systemClock, type UnitOfWork } from "../application/ports.ts";
import { startConsumer } from "../outbox/consumer.ts";
import type { Envelope } from "../outbox/envelope.ts";
import type { Subscriber, Subscription } from "../outbox/ports.ts";
import {
  benchEnvelope,
  type BenchSchema,
  type ClientName,
  cpuDelta,
  cpuSnapshot,
  type CpuUsage,
  createSchema,
  createTopics,
  deleteTopics,
  env,
  openTransport,
  type Percentiles,
  percentiles,
  progress,
  progressEvery,
  sleep,
  spawnDeno,
  type Spawned,
  spawnLogged,
  spawnRelay,
  uniqueId,
  waitForLog,
} from "./common.ts";
import { insertPeerEnvelopes } from "./peers/ptxo_rows.ts";

/** One configuration of our pipeline to measure. */
export interface PipelineVariant {
  readonly client: ClientName;
  /** Commits per second offered by the writers. */
  readonly rate: number;
  /** Consumer batches of 100 flushed every 10 ms, or one transaction per event. */
  readonly batched: boolean;
}

/** Options of the latency scenario. */
export interface LatencyOptions {
  /** The peers' rate (the scenario's rate). */
  readonly rate: number;
  readonly seconds: number;
  readonly variants: readonly PipelineVariant[];
  /** Run the peers (naive relay, pg-transactional-outbox) for this many seconds at `rate`; 0 skips. */
  readonly peerSeconds: number;
  /** How long to wait for the last effects after the writers stop. */
  readonly settleSeconds: number;
  /** Events of the first `warmupSeconds` are not counted. */
  readonly warmupSeconds: number;
  readonly partitions: number;
}

/** One latency run. */
export interface LatencyRun {
  readonly name: string;
  readonly client?: ClientName;
  /** What the clock stops on: the consumer's committed effect, or the message read from the topic. */
  readonly until: "effect" | "topic";
  readonly targetRate: number;
  readonly achievedRate: number;
  readonly committed: number;
  /** Counted events (after the warm-up) that never arrived within the settle time. */
  readonly missing: number;
  readonly latencyMs: Percentiles;
  /** commit → on the topic, from the raw reader (our relay's hop alone). */
  readonly topicLatencyMs?: Percentiles;
  /** Time a writer waited for its transaction. */
  readonly writeMs: Percentiles;
  /** Where the consumer's time goes: message received → effect, its transactions, its offset commits. */
  readonly consumer?: {
    readonly receivedToEffectMs: Percentiles;
    readonly transactionMs: Percentiles;
    readonly offsetCommitMs: Percentiles;
    readonly meanBatch: number;
    readonly transactions: number;
  };
  readonly cpu: CpuUsage;
  readonly note?: string;
}

/** What the latency scenario reports. */
export interface LatencyResult {
  readonly runs: LatencyRun[];
  readonly errors: string[];
}

const scope = "latency";

/** Drives `write(i)` at `rate` per second for `seconds`, open loop; resolves when every write settled. */
async function paced(
  rate: number,
  seconds: number,
  write: (index: number) => Promise<void>,
  report: () => string,
): Promise<{ started: number; seconds: number }> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const t0 = performance.now();
  const pending = new Set<Promise<void>>();
  let next = 0;
  let failures = 0;
  while (next < total) {
    const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
    while (next < due && pending.size < 500) {
      const p = write(next++).catch(() => void failures++).finally(() => pending.delete(p));
      pending.add(p);
    }
    progressEvery(scope, report);
    await sleep(1);
  }
  await Promise.all(pending);
  if (failures > 0) progress(scope, `${failures} writes failed`);
  return { started: t0, seconds: (performance.now() - t0) / 1000 };
}

/** Wraps a subscriber: notes when each event reaches the consumer, and how long each offset commit takes. */
function timedSubscriber(
  inner: Subscriber,
  stats: { arrivals: Map<string, number>; commitMs: number[] },
): Subscriber {
  const timed = (member: Subscription): Subscription => ({
    commit: async (positions) => {
      const started = performance.now();
      try {
        await member.commit(positions);
      } finally {
        stats.commitMs.push(performance.now() - started);
      }
    },
    close: () => member.close(),
  });
  return {
    subscribe: async (options) =>
      timed(
        await inner.subscribe({
          ...options,
          onBatch: (batch, member) => {
            const now = performance.now();
            for (const message of batch.messages) {
              const id = message.headers["event-id"];
              if (id && !stats.arrivals.has(id)) stats.arrivals.set(id, now);
            }
            return options.onBatch(batch, timed(member));
          },
        }),
      ),
  };
}

/** A raw kafkajs reader that notes when each event id arrives. */
async function topicReader(topic: string, arrivals: Map<string, number>): Promise<() => Promise<void>> {
  const transport = new KafkajsTransport({ brokers: env.brokers, clientId: "bench-latency-reader" });
  const group = `bench-latency-reader-${uniqueId()}`;
  const subscription: Subscription = await transport.subscribe({
    group,
    topics: [topic],
    onBatch: (batch) => {
      const now = performance.now();
      for (const message of batch.messages) {
        const id = message.headers["event-id"];
        if (id && !arrivals.has(id)) arrivals.set(id, now);
      }
      return Promise.resolve();
    },
  });
  return async () => {
    await subscription.close();
    await transport.close();
    await deleteTopics([], [group]);
  };
}

function latencies(commits: Map<string, number>, arrivals: Map<string, number>, counted: Set<string>) {
  const values: number[] = [];
  let missing = 0;
  for (const id of counted) {
    const arrived = arrivals.get(id);
    const committed = commits.get(id);
    if (arrived === undefined || committed === undefined) missing++;
    else values.push(arrived - committed);
  }
  return { values, missing };
}

async function settle(expected: Set<string>, arrivals: Map<string, number>, seconds: number): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    let all = true;
    for (const id of expected) {
      if (!arrivals.has(id)) {
        all = false;
        break;
      }
    }
    if (all) return;
    await sleep(50);
  }
}

/** Our pipeline: setLike writers → relay process → startConsumer with the like projection. */
async function ourPipeline(variant: PipelineVariant, options: LatencyOptions): Promise<LatencyRun> {
  const { client, batched, rate } = variant;
  const name = `setLike → relay → consumer (${client}, ${
    batched ? "batch ≤ 100, flush on delivery" : "one event per tx"
  })`;
  const schema = await createSchema("lat", 24);
  const consumerDb = await connectPostgres(env.databaseUrl, { schema: schema.name, max: 8 });
  const [topic] = await createTopics(options.partitions, "interaction-events");
  const group = `${topic}.like-persistence-group`;
  let relay: Spawned | undefined;
  const cleanup: (() => Promise<void>)[] = [];
  try {
    relay = await spawnRelay(client, schema.name, `latency-relay-${client}`);
    const commits = new Map<string, number>();
    const effects = new Map<string, number>();
    const onTopic = new Map<string, number>();
    const writeTimes: number[] = [];
    const project = projectLikeCounts({ logger: silentLogger });
    const transport = await openTransport(client, "bench-consumer");
    const stats = {
      arrivals: new Map<string, number>(),
      txMs: [] as number[],
      commitMs: [] as number[],
      sizes: [] as number[],
    };
    const projection = likeProjectionUnitOfWork(consumerDb);
    const consumer = await startConsumer<LikeProjectionTx>({
      group,
      topics: [topic],
      inbox: true,
      handlers: {
        [likeEvent.eventType]: async (events: readonly Envelope[], tx) => {
          stats.sizes.push(events.length);
          await project(events, tx);
          return () => {
            const now = performance.now();
            for (const event of events) if (!effects.has(event.eventId)) effects.set(event.eventId, now);
            return Promise.resolve();
          };
        },
      },
      subscriber: timedSubscriber(transport, stats),
      unitOfWork: {
        inTransaction: async <T>(work: (tx: LikeProjectionTx) => Promise<T>): Promise<T> => {
          const started = performance.now();
          try {
            return await projection.inTransaction(work);
          } finally {
            stats.txMs.push(performance.now() - started);
          }
        },
      },
      deadLetters: transport,
      retry: { maxRetries: 3, baseDelayMs: 20, factor: 2, maxDelayMs: 1000 },
      batch: batched ? { maxSize: 100, flushEveryMs: 10, flushOnDelivery: true } : undefined,
      isInfrastructure: isInfrastructureError,
      logger: silentLogger,
    });
    cleanup.push(async () => {
      await consumer.stop();
      await transport.close();
    });
    cleanup.push(await topicReader(topic, onTopic));

    const base = interactionUnitOfWork(schema.db, { channel: schema.channel });
    const cache = new MemoryLikeCache();
    const counted = new Set<string>();
    const warmup = Math.round(rate * options.warmupSeconds);
    const write = async (index: number) => {
      let committedAt = 0;
      const unitOfWork: UnitOfWork<InteractionTx> = {
        inTransaction: async (work) => {
          const result = await base.inTransaction(work);
          committedAt = performance.now();
          return result;
        },
      };
      const started = performance.now();
      const result = await setLike(
        { unitOfWork, cache, clock: systemClock, logger: silentLogger, topic },
        { userId: String(index + 1), target: { type: "video", id: String((index % 1000) + 1) }, action: 1 },
      );
      if (!result.eventId) return;
      commits.set(result.eventId, committedAt);
      if (index >= warmup) {
        counted.add(result.eventId);
        writeTimes.push(committedAt - started);
      }
    };
    progress(scope, `${name}: ${rate}/s for ${options.seconds} s`);
    const before = await cpuSnapshot({ relay: [relay.pid] });
    const run = await paced(
      rate,
      options.seconds,
      write,
      () => `${name}: ${commits.size} committed, ${effects.size} applied`,
    );
    await settle(counted, effects, options.settleSeconds);
    const after = await cpuSnapshot({ relay: [relay.pid] });
    const effect = latencies(commits, effects, counted);
    const inConsumer = latencies(stats.arrivals, effects, counted);
    const topicHop = latencies(commits, onTopic, counted);
    const result: LatencyRun = {
      name,
      client,
      until: "effect",
      targetRate: rate,
      achievedRate: Math.round(commits.size / run.seconds),
      committed: commits.size,
      missing: effect.missing,
      latencyMs: percentiles(effect.values),
      topicLatencyMs: percentiles(topicHop.values),
      writeMs: percentiles(writeTimes),
      consumer: {
        receivedToEffectMs: percentiles(inConsumer.values),
        transactionMs: percentiles(stats.txMs),
        offsetCommitMs: percentiles(stats.commitMs),
        meanBatch: Math.round(stats.sizes.reduce((a, b) => a + b, 0) / Math.max(1, stats.sizes.length)),
        transactions: stats.txMs.length,
      },
      cpu: cpuDelta(before, after),
      note:
        `first ${options.warmupSeconds} s not counted; relay defaults (batch 500, 4 loops, NOTIFY + 1 s poll)`,
    };
    progress(
      scope,
      `${name}: p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms, ` +
        `missing ${result.missing}`,
    );
    return result;
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
    await relay?.stop("SIGTERM");
    await consumerDb.close();
    await schema.drop();
    await deleteTopics([topic], [group]);
  }
}

/** A peer relay, measured commit → on the topic; writers insert one row per transaction into its table. */
async function peerPipeline(peer: "naive" | "ptxo", options: LatencyOptions): Promise<LatencyRun> {
  const name = peer === "naive"
    ? "naive relay (poll 1 s, 1 row at a time)"
    : "pg-transactional-outbox 0.5.7 (polling 100 ms)";
  const schema: BenchSchema = await createSchema(`lat${peer}`, 24);
  const [topic] = await createTopics(options.partitions, "peer-latency");
  let process: Spawned | undefined;
  let stopReader: (() => Promise<void>) | undefined;
  try {
    const peerEnv = {
      DATABASE_SCHEMA: schema.name,
      DATABASE_URL: env.databaseUrl,
      KAFKA_BROKERS: env.brokers.join(","),
      PTXO_TOPIC: topic,
    };
    let insert: (tx: SqlClient, events: Envelope[]) => Promise<void>;
    if (peer === "naive") {
      process = await spawnDeno("latency-naive", "bench/peers/naive_relay.ts", peerEnv);
      await waitForLog(process, "naive relay started");
      insert = (tx, events) =>
        new PostgresOutboxWriter(tx, { channel: schema.channel }).append(topic, events);
    } else {
      const script = "bench/peers/pg_transactional_outbox.ts";
      const setup = await spawnLogged("ptxo-setup", Deno.execPath(), [
        "run",
        "-A",
        "--no-lock",
        script,
        "setup",
      ], peerEnv);
      if (!(await setup.status).success) throw new Error(`peer setup failed:\n${await setup.log()}`);
      process = await spawnLogged(
        "latency-ptxo",
        Deno.execPath(),
        ["run", "-A", "--no-lock", script, "run"],
        peerEnv,
      );
      await waitForLog(process, "pg-transactional-outbox started");
      insert = (tx, events) => insertPeerEnvelopes(tx, events);
    }
    const commits = new Map<string, number>();
    const onTopic = new Map<string, number>();
    stopReader = await topicReader(topic, onTopic);
    const counted = new Set<string>();
    const writeTimes: number[] = [];
    const warmup = Math.round(options.rate * options.warmupSeconds);
    const write = async (index: number) => {
      const envelope = benchEnvelope(index, Math.floor(index / 1000) + 1);
      const started = performance.now();
      await schema.db.transaction((tx) => insert(tx, [envelope]));
      const committedAt = performance.now();
      commits.set(envelope.eventId, committedAt);
      if (index >= warmup) {
        counted.add(envelope.eventId);
        writeTimes.push(committedAt - started);
      }
    };
    progress(scope, `${name}: ${options.rate}/s for ${options.peerSeconds} s`);
    const before = await cpuSnapshot({ relay: [process.pid] });
    const run = await paced(
      options.rate,
      options.peerSeconds,
      write,
      () => `${name}: ${commits.size} committed, ${onTopic.size} on the topic`,
    );
    await settle(counted, onTopic, options.settleSeconds);
    const after = await cpuSnapshot({ relay: [process.pid] });
    const hop = latencies(commits, onTopic, counted);
    const result: LatencyRun = {
      name,
      until: "topic",
      targetRate: options.rate,
      achievedRate: Math.round(commits.size / run.seconds),
      committed: commits.size,
      missing: hop.missing,
      latencyMs: percentiles(hop.values),
      writeMs: percentiles(writeTimes),
      cpu: cpuDelta(before, after),
      note: `${options.peerSeconds} s run; commit → on the topic (no inbox); events not on the topic ` +
        `${options.settleSeconds} s after the last write count as missing and are not in the percentiles`,
    };
    progress(scope, `${name}: p99 ${result.latencyMs.p99.toFixed(1)} ms, missing ${result.missing}`);
    return result;
  } finally {
    await stopReader?.().catch(() => {});
    await process?.stop("SIGTERM");
    await schema.drop();
    await deleteTopics([topic]);
  }
}

/** Runs scenario 2. */
export async function runLatency(options: LatencyOptions): Promise<LatencyResult> {
  const runs: LatencyRun[] = [];
  const errors: string[] = [];
  const attempt = async (what: string, work: () => Promise<LatencyRun>) => {
    try {
      runs.push(await work());
    } catch (error) {
      const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
      progress(scope, `FAILED ${message}`);
      errors.push(message);
    }
  };
  for (const variant of options.variants) {
    const what = `pipeline (${variant.client}, ${variant.rate}/s, ${
      variant.batched ? "batched" : "per event"
    })`;
    await attempt(what, () => ourPipeline(variant, options));
  }
  if (options.peerSeconds > 0) {
    await attempt("naive relay", () => peerPipeline("naive", options));
    await attempt("pg-transactional-outbox", () => peerPipeline("ptxo", options));
  }
  return { runs, errors };
}
