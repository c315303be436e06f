/** The event transport on Apache Kafka through @platformatic/kafka: publisher and consumer groups. */
import { Buffer } from "node:buffer";
import {
  compatibilityPartitioner,
  compressionsAlgorithms,
  Consumer,
  Producer,
  stringSerializers,
} from "@platformatic/kafka";
import type { Logger } from "../../application/ports.ts";
import { silentLogger } from "../../application/ports.ts";
import type {
  Publisher,
  SubscribeOptions,
  Subscriber,
  Subscription,
  TransportMessage,
} from "../../outbox/ports.ts";
import { type Compression, type KafkaSettings, type ProducerSettings, producerSettings } from "./kafkajs.ts";
import { type BytesConsumer, GroupMember } from "./platformatic_group_member.ts";
import { platformaticRejection } from "./rejections.ts";

type StringProducer = Producer<string, string, string, string>;

/** Backstop for one publish: the client's own retries end sooner, this also covers a broker that hangs. */
const publishDeadlineMs = 15_000;

/**
 * The codecs this client can use here: gzip and zstd from node:zlib (zstd where the runtime has it, as Deno
 * 2.9 does), snappy and lz4 from its bundled WebAssembly; no native package is needed.
 */
export const platformaticCompressions: readonly Compression[] = (
  ["none", "gzip", "snappy", "lz4", "zstd"] as const
).filter((name) => compressionsAlgorithms[name].available);

/** Exponential delay between the client's retries: `baseMs` doubling up to `maxMs`. */
function retryDelay(baseMs: number, maxMs: number) {
  return (_client: unknown, _operation: string, attempt: number): number =>
    Math.min(baseMs * 2 ** (attempt - 1), maxMs);
}

/** What consumers get, and producers unless their settings say otherwise: 5 retries from 200 ms to 2 s. */
function baseOptions(settings: KafkaSettings) {
  return {
    clientId: settings.clientId ?? "outbox-platform",
    bootstrapBrokers: [...settings.brokers],
    connectTimeout: 3000,
    requestTimeout: 30_000,
    retries: 5,
    retryDelay: retryDelay(200, 2000),
    autocreateTopics: false,
  };
}

/** The @platformatic/kafka transport: one producer shared by all publishes, one consumer per subscription. */
export class PlatformaticTransport implements Publisher, Subscriber {
  readonly #settings: KafkaSettings;
  readonly #producerSettings: ProducerSettings;
  readonly #logger: Logger;
  #producer: StringProducer | undefined;
  readonly #members = new Set<GroupMember>();

  /** Throws on producer settings this client cannot honour: a codec it lacks, too few idempotent retries. */
  constructor(settings: KafkaSettings) {
    const producer = producerSettings(settings);
    if (!platformaticCompressions.includes(producer.compression)) {
      throw new Error(
        `@platformatic/kafka has no ${producer.compression} codec here (only ${
          platformaticCompressions.join(", ")
        })`,
      );
    }
    // The client turns 0 or 1 retries of an idempotent producer into unlimited ones: a publish would then hang
    // for as long as the broker is down instead of failing and letting the relay back off.
    if (producer.idempotent && producer.retries < 2) {
      throw new Error(
        "@platformatic/kafka's idempotent producer needs at least 2 retries (fewer mean unlimited)",
      );
    }
    this.#settings = settings;
    this.#producerSettings = producer;
    this.#logger = settings.logger ?? silentLogger;
  }

  #currentProducer(): StringProducer {
    const { acks, idempotent, retries, retryBaseMs, retryMaxMs, compression } = this.#producerSettings;
    // The client connects on the first send, so creating it here is cheap and keeps the connection lazy.
    this.#producer ??= new Producer<string, string, string, string>({
      ...baseOptions(this.#settings),
      retries,
      retryDelay: retryDelay(retryBaseMs, retryMaxMs),
      idempotent,
      acks,
      timeout: 10_000,
      compression,
      serializers: stringSerializers,
      // The Java client's (and kafkajs') key hash: a key lands on the same partition whichever client published
      // it. The library's default partitioner differs for about half the keys.
      partitioner: compatibilityPartitioner,
    });
    return this.#producer;
  }

  async publish(messages: readonly TransportMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = this.#currentProducer();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`publish not acknowledged within ${publishDeadlineMs} ms`)),
        publishDeadlineMs,
      );
    });
    try {
      await Promise.race([
        producer.send({
          // Per send as well: the client applies the constructor's acks only through idempotence (a send without
          // acks waits for the leader alone).
          acks: this.#producerSettings.acks,
          messages: messages.map((message) => ({
            topic: message.topic,
            key: message.key,
            value: message.value,
            headers: new Map(Object.entries(message.headers)),
          })),
        }),
        deadline,
      ]);
    } catch (error) {
      // A producer whose send failed may hold stale sequence numbers: start the next publish on a new one.
      if (this.#producer === producer) this.#producer = undefined;
      producer.close(true).catch(() => {});
      throw platformaticRejection(error, messages) ?? error;
    } finally {
      clearTimeout(timer);
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const consumer: BytesConsumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...baseOptions(this.#settings),
      groupId: options.group,
      // KIP-848's protocol threw STALE_MEMBER_EPOCH on commits during reassignment; the classic one is kafkajs'.
      groupProtocol: "classic",
      // kafkajs' assignor name (also round robin): members of both adapters can then share a group, so a
      // service can move from one adapter to the other one instance at a time.
      protocols: [{ name: "RoundRobinAssigner", version: 0 }],
      autocommit: false,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3000,
      maxWaitTime: 250,
      maxBytes: 10 * 1024 * 1024,
      maxBytesPerPartition: 1024 * 1024,
    });
    const member: GroupMember = new GroupMember(
      consumer,
      options,
      this.#settings.partitionsConsumedConcurrently ?? 4,
      this.#logger,
      () => this.#members.delete(member),
    );
    this.#members.add(member);
    await member.start();
    return member;
  }

  /** Closes every consumer (each leaves its group after its batch in flight) and the producer. */
  async close(): Promise<void> {
    await Promise.all([...this.#members].map((member) => member.close().catch(() => {})));
    this.#members.clear();
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.close(true).catch(() => {});
  }
}
