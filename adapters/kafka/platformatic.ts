/** The event transport on Apache Kafka through @platformatic/kafka: publisher and consumer groups. */
import { Buffer } from "node:buffer";
import { compatibilityPartitioner, Consumer, Producer, stringSerializers } from "@platformatic/kafka";
import type { Logger } from "../../application/ports.ts";
import { silentLogger } from "../../application/ports.ts";
import type {
  Publisher,
  SubscribeOptions,
  Subscriber,
  Subscription,
  TransportMessage,
} from "../../outbox/ports.ts";
import type { KafkaSettings } from "./kafkajs.ts";
import { type BytesConsumer, GroupMember } from "./platformatic_group_member.ts";
import { platformaticRejection } from "./rejections.ts";

type StringProducer = Producer<string, string, string, string>;

/** Backstop for one publish: the client's own retries end sooner, this also covers a broker that hangs. */
const publishDeadlineMs = 15_000;

/** Exponential delay between the client's retries: 200 ms doubling to 2 s, so 5 retries take about 5 s. */
function retryDelay(_client: unknown, _operation: string, attempt: number): number {
  return Math.min(200 * 2 ** (attempt - 1), 2000);
}

function baseOptions(settings: KafkaSettings) {
  return {
    clientId: settings.clientId ?? "outbox-platform",
    bootstrapBrokers: [...settings.brokers],
    connectTimeout: 3000,
    requestTimeout: 30_000,
    // Set explicitly: an idempotent producer left without it retries without end, and a publish would hang for
    // as long as the broker is down instead of letting the relay back off.
    retries: 5,
    retryDelay,
    autocreateTopics: false,
  };
}

/** The @platformatic/kafka transport: one producer shared by all publishes, one consumer per subscription. */
export class PlatformaticTransport implements Publisher, Subscriber {
  readonly #settings: KafkaSettings;
  readonly #logger: Logger;
  #producer: StringProducer | undefined;
  readonly #members = new Set<GroupMember>();

  constructor(settings: KafkaSettings) {
    this.#settings = settings;
    this.#logger = settings.logger ?? silentLogger;
  }

  #currentProducer(): StringProducer {
    // The client connects on the first send, so creating it here is cheap and keeps the connection lazy.
    this.#producer ??= new Producer<string, string, string, string>({
      ...baseOptions(this.#settings),
      idempotent: true,
      acks: -1,
      timeout: 10_000,
      compression: this.#settings.compression === "gzip" ? "gzip" : "none",
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
          // Per send as well: the client applies the constructor's acks only through idempotence.
          acks: -1,
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
