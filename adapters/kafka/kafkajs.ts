/** The event transport on Apache Kafka through kafkajs: publisher, consumer groups, topic administration. */
import { Buffer } from "node:buffer";
import process from "node:process";
import {
  type Admin,
  CompressionTypes,
  ConfigResourceTypes,
  type Consumer,
  Kafka,
  logLevel,
  Partitioners,
  type Producer,
} from "kafkajs";
import type { Logger } from "../../application/ports.ts";
import { silentLogger } from "../../application/ports.ts";
import type {
  Position,
  Publisher,
  ReceivedMessage,
  SubscribeOptions,
  Subscriber,
  Subscription,
  TopicAdmin,
  TopicSpec,
  TransportMessage,
} from "../../outbox/ports.ts";
import { deadLetterTopic } from "../../outbox/dead_letter.ts";
import { kafkajsRejection } from "./rejections.ts";

/** A compression codec of Kafka's record batches; each client supports some of them. */
export type Compression = "none" | "gzip" | "snappy" | "lz4" | "zstd";

/** How a transport's producer writes: acknowledgements, idempotence, retries and compression. */
export interface ProducerSettings {
  /** Acknowledgements a Produce request waits for: -1 all in-sync replicas, 1 the leader, 0 none. */
  readonly acks: -1 | 1 | 0;
  /** A producer id and numbered sequences, so a retried batch is not written twice; needs acks -1. */
  readonly idempotent: boolean;
  /** Retries of a failed request by the client before the publish fails (and the relay backs off). */
  readonly retries: number;
  /** Delay before the first retry; it doubles at each retry up to `retryMaxMs`. */
  readonly retryBaseMs: number;
  /** Longest delay between two retries. */
  readonly retryMaxMs: number;
  /** Codec of the record batches the producer sends (kafkajs: none or gzip). */
  readonly compression: Compression;
}

/** The producer a transport gets for what its settings leave out (also what an empty configuration gives). */
export const defaultProducerSettings: ProducerSettings = {
  acks: -1,
  idempotent: true,
  retries: 5,
  retryBaseMs: 200,
  retryMaxMs: 2000,
  compression: "none",
};

/** The codecs kafkajs has built in: snappy, lz4 and zstd need codec packages it does not ship. */
export const kafkajsCompressions: readonly Compression[] = ["none", "gzip"];

/** Connection settings. */
export interface KafkaSettings {
  /** host:port list. */
  readonly brokers: readonly string[];
  readonly clientId?: string;
  readonly logger?: Logger;
  /** The producer's settings; each one left out is `defaultProducerSettings`'. */
  readonly producer?: Partial<ProducerSettings>;
  /** Partitions consumed concurrently by one member (default 4); one partition is always sequential. */
  readonly partitionsConsumedConcurrently?: number;
}

/** `settings.producer` completed with the defaults; an idempotent producer asking for other acks is refused. */
export function producerSettings(settings: KafkaSettings): ProducerSettings {
  const producer = { ...defaultProducerSettings, ...settings.producer };
  if (producer.idempotent && producer.acks !== -1) {
    throw new Error(`an idempotent producer needs acks -1 (all in-sync replicas), not ${producer.acks}`);
  }
  if (producer.retryMaxMs < producer.retryBaseMs) {
    throw new Error(`retryMaxMs ${producer.retryMaxMs} is below retryBaseMs ${producer.retryBaseMs}`);
  }
  return producer;
}

export type { TopicSpec } from "../../outbox/ports.ts";

// kafkajs computes a negative timeout when its request queue has nothing scheduled; Node clamps it to 1 ms and
// warns at every process start. The warning says nothing actionable to an operator, so it is dropped.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const type = typeof warning === "string"
    ? (typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type)
    : warning.name;
  if (type === "TimeoutNegativeWarning") return;
  return (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

function text(value: Buffer | string | null | undefined): string {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : value.toString("utf8");
}

/**
 * Waits until every partition of `topics` has a leader. kafkajs' own wait (`waitForLeaders`) gives up on the
 * first "does not host this topic-partition" a busy broker answers while a new topic propagates; this retries
 * that and a missing leader for up to 30 s.
 */
async function leadersOf(admin: Admin, topics: readonly string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (let delay = 50;; delay = Math.min(delay * 2, 1_000)) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: [...topics] });
      const ready = found.length === topics.length &&
        found.every((topic) => topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0));
      if (ready) return;
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (type !== "UNKNOWN_TOPIC_OR_PARTITION" && type !== "LEADER_NOT_AVAILABLE") throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics without leaders after 30 s: ${topics.join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Backstop for one publish (as the platformatic adapter's): a broker that is gone or hangs fails it by then. */
const publishDeadlineMs = 15_000;

function kafkaClient(settings: KafkaSettings, retries = 5): Kafka {
  const logger = settings.logger ?? silentLogger;
  return new Kafka({
    clientId: settings.clientId ?? "outbox-platform",
    brokers: [...settings.brokers],
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries, maxRetryTime: 5000 },
    logLevel: logLevel.ERROR,
    logCreator: () => ({ namespace, log }) => {
      // Connection errors during an outage are reported by the relay and consumers themselves, once per retry.
      logger.debug("kafkajs", { namespace, message: log.message, error: log.error });
    },
  });
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * What one member may commit: only partitions of its current assignment, and only beyond the group's
 * position as far as it knows it, so a late commit never moves the position back. After every join kafkajs
 * fetches from the group's committed offsets, so the first batch of a partition in the new assignment tells
 * that position; until that batch, a commit of the partition can only come from work of an earlier
 * assignment, which is delivered again anyway, so it is skipped.
 */
class CommitGate {
  #assigned = new Set<string>();
  /** Per partition: the group's committed offset as this member knows it since its last join. */
  readonly #known = new Map<string, bigint>();

  join(assignment: Readonly<Record<string, readonly number[]>>): void {
    this.#assigned = new Set(
      Object.entries(assignment).flatMap(([topic, partitions]) =>
        partitions.map((p) => partitionKey(topic, p))
      ),
    );
    this.#known.clear();
  }

  delivered(topic: string, partition: number, firstOffset: string | null): void {
    const key = partitionKey(topic, partition);
    if (firstOffset !== null && this.#assigned.has(key) && !this.#known.has(key)) {
      this.#known.set(key, BigInt(firstOffset));
    }
  }

  allowed(positions: readonly Position[]): Position[] {
    return positions.filter((p) => {
      const key = partitionKey(p.topic, p.partition);
      const known = this.#known.get(key);
      return this.#assigned.has(key) && known !== undefined && BigInt(p.offset) > known;
    });
  }

  committed(positions: readonly Position[]): void {
    for (const p of positions) {
      const key = partitionKey(p.topic, p.partition);
      if (this.#assigned.has(key)) this.#known.set(key, BigInt(p.offset));
    }
  }
}

/** The kafkajs transport: one producer shared by all publishes, one consumer per group. */
export class KafkajsTransport implements Publisher, Subscriber {
  readonly #kafka: Kafka;
  readonly #settings: KafkaSettings;
  readonly #producerSettings: ProducerSettings;
  readonly #logger: Logger;
  #producer: Promise<Producer> | undefined;
  readonly #consumers = new Set<Consumer>();

  /** Throws on producer settings kafkajs cannot honour: a codec it lacks, an idempotent producer without retries. */
  constructor(settings: KafkaSettings) {
    const producer = producerSettings(settings);
    if (!kafkajsCompressions.includes(producer.compression)) {
      throw new Error(
        `kafkajs has no ${producer.compression} codec built in (only ${kafkajsCompressions.join(", ")})`,
      );
    }
    // kafkajs itself refuses it, but only when the first publish creates the producer.
    if (producer.idempotent && producer.retries < 1) {
      throw new Error("kafkajs' idempotent producer needs at least 1 retry");
    }
    this.#settings = settings;
    this.#producerSettings = producer;
    this.#kafka = kafkaClient(settings);
    this.#logger = settings.logger ?? silentLogger;
  }

  #connectedProducer(): Promise<Producer> {
    const { idempotent, retries, retryBaseMs, retryMaxMs } = this.#producerSettings;
    this.#producer ??= (async () => {
      const producer = this.#kafka.producer({
        idempotent,
        maxInFlightRequests: 5,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        // Bounded retries: during an outage the relay's own backoff takes over and its rows stay in the outbox.
        // kafkajs doubles the delay (with ±20% jitter) from initialRetryTime up to maxRetryTime.
        retry: { initialRetryTime: retryBaseMs, retries, maxRetryTime: retryMaxMs },
      });
      await producer.connect();
      return producer;
    })();
    return this.#producer;
  }

  async publish(messages: readonly TransportMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const byTopic = new Map<string, { key: Buffer; value: Buffer; headers: Record<string, Buffer> }[]>();
    for (const message of messages) {
      const list = byTopic.get(message.topic) ?? [];
      const headers: Record<string, Buffer> = {};
      for (const [name, value] of Object.entries(message.headers)) headers[name] = Buffer.from(value);
      list.push({ key: Buffer.from(message.key), value: Buffer.from(message.value), headers });
      byTopic.set(message.topic, list);
    }
    const used = this.#connectedProducer();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const producer = await used;
      // A backstop: with the broker gone, kafkajs' own retries and request timeouts can hold one publish (and the
      // relay's claim) for a minute or more; failing it sooner lets the relay back off and report the outage.
      await Promise.race([
        producer.sendBatch({
          acks: this.#producerSettings.acks,
          compression: this.#producerSettings.compression === "gzip"
            ? CompressionTypes.GZIP
            : CompressionTypes.None,
          topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`publish not acknowledged within ${publishDeadlineMs} ms`)),
            publishDeadlineMs,
          );
        }),
      ]);
    } catch (error) {
      // A producer whose send failed may hold stale sequence numbers: start the next publish on a new one.
      // Only the producer this send used: another loop may already have replaced it with a healthy one.
      if (this.#producer === used) this.#producer = undefined;
      used.then((producer) => producer.disconnect()).catch(() => {});
      throw (await kafkajsRejection(error, messages, () => this.#listTopics())) ?? error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The cluster's topics, to confirm a topic the producer found missing. */
  async #listTopics(): Promise<string[]> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      return await admin.listTopics();
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const consumer = this.#kafka.consumer({
      groupId: options.group,
      allowAutoTopicCreation: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      maxWaitTimeInMs: 250,
      retry: {
        initialRetryTime: 300,
        retries: 10,
        maxRetryTime: 10_000,
        restartOnFailure: () => Promise.resolve(true),
      },
    });
    this.#consumers.add(consumer);
    const gate = new CommitGate();
    const joined = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        gate.join(event.payload.memberAssignment);
        clearTimeout(timer);
        resolve();
      });
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.#logger.warn("kafka consumer crashed; it restarts", {
        group: options.group,
        error: String(event.payload.error),
      });
    });
    // One commit at a time, each checked when its turn comes: two in flight could land in the wrong order.
    let commits: Promise<void> = Promise.resolve();
    const subscription: Subscription = {
      commit: (positions: readonly Position[]) => {
        const done = commits.then(async () => {
          const allowed = gate.allowed(positions);
          if (allowed.length === 0) return;
          await consumer.commitOffsets(allowed.map((p) => ({ ...p })));
          gate.committed(allowed);
        });
        commits = done.catch(() => {});
        return done;
      },
      close: async () => {
        this.#consumers.delete(consumer);
        await consumer.disconnect();
      },
    };
    await consumer.connect();
    await consumer.subscribe({ topics: [...options.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: this.#settings.partitionsConsumedConcurrently ?? 4,
      eachBatch: async ({ batch, heartbeat }) => {
        gate.delivered(batch.topic, batch.partition, batch.firstOffset());
        const messages: ReceivedMessage[] = batch.messages.map((message) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            headers[name] = Array.isArray(value)
              ? text(value[0])
              : text(value as Buffer | string | undefined);
          }
          return {
            topic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
            key: text(message.key),
            value: text(message.value),
            headers,
          };
        });
        await options.onBatch(
          { topic: batch.topic, partition: batch.partition, messages, heartbeat },
          subscription,
        );
      },
    });
    await joined;
    return subscription;
  }

  /** Disconnects the producer and every consumer. */
  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((consumer) => consumer.disconnect().catch(() => {})));
    this.#consumers.clear();
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.then((p) => p.disconnect()).catch(() => {});
  }
}

/** Topic administration: the project creates its topics (auto-creation is off on a production cluster). */
export class KafkaTopics implements TopicAdmin {
  readonly #kafka: Kafka;

  constructor(settings: KafkaSettings) {
    // Few retries of its own: its callers retry with backoff and say so, and an unreachable broker must show
    // within seconds (a readiness check, a start-up waiting for the broker), not after a minute of silence.
    this.#kafka = kafkaClient(settings, 1);
  }

  async #withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect();
    }
  }

  /** Creates each topic and its `<topic>.dlq` when missing; returns the names created. */
  ensure(specs: readonly TopicSpec[]): Promise<string[]> {
    return this.#withAdmin(async (admin) => {
      const existing = new Set(await admin.listTopics());
      const wanted = specs.flatMap((spec) => [spec, { ...spec, topic: deadLetterTopic(spec.topic) }]);
      const missing = wanted.filter((spec) => !existing.has(spec.topic));
      if (missing.length === 0) return [];
      await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map((spec) => ({
          topic: spec.topic,
          numPartitions: spec.partitions ?? 6,
          replicationFactor: spec.replicationFactor ?? 1,
          configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
      await leadersOf(admin, missing.map((spec) => spec.topic));
      return missing.map((spec) => spec.topic);
    });
  }

  /** retention.ms of each topic that exists (null: kept forever); topics the cluster lacks are left out. */
  retentionMs(topics: readonly string[]): Promise<Map<string, number | null>> {
    return this.#withAdmin(async (admin) => {
      const retention = new Map<string, number | null>();
      const existing = new Set(await admin.listTopics());
      const wanted = [...new Set(topics)].filter((topic) => existing.has(topic));
      if (wanted.length === 0) return retention;
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: wanted.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ["retention.ms", "segment.ms", "cleanup.policy"],
        })),
      });
      for (const resource of resources) {
        const config = (name: string) =>
          resource.configEntries.find((entry) => entry.configName === name)?.configValue;
        const [retentionMs, segmentMs, policy] = [
          config("retention.ms"),
          config("segment.ms"),
          config("cleanup.policy"),
        ];
        if (retentionMs === undefined) continue;
        // -1 (any negative) means no time limit, and a compacted topic keeps a key's last message forever. Else a
        // message lives until its whole segment is past retention.ms: up to retention.ms + segment.ms.
        const forever = Number(retentionMs) < 0 || !(policy ?? "delete").split(",").includes("delete");
        retention.set(resource.resourceName, forever ? null : Number(retentionMs) + Number(segmentMs ?? 0));
      }
      return retention;
    });
  }

  /** Whether the cluster answers (for readiness checks). */
  ping(): Promise<number> {
    return this.#withAdmin(async (admin) => (await admin.describeCluster()).brokers.length);
  }

  /** Consumer group lag per partition: latest offset minus committed offset. */
  lag(group: string, topic: string): Promise<{ partition: number; lag: number }[]> {
    return this.#withAdmin(async (admin) => {
      const [latest, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: group, topics: [topic] }),
      ]);
      const done = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
      return latest.map((p) => {
        const end = Number(p.high);
        const at = done.get(p.partition) ?? -1;
        return { partition: p.partition, lag: at < 0 ? end - Number(p.low) : Math.max(0, end - at) };
      });
    });
  }
}
