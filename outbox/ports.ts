/** Ports of the outbox machinery: where rows are written and claimed, and how messages travel. */
import type { Envelope } from "./envelope.ts";

/** Appends events to the outbox inside the caller's database transaction. */
export interface OutboxWriter {
  /** Records the events for `topic`; they exist only if the surrounding transaction commits. */
  append(topic: string, events: readonly Envelope[]): Promise<void>;
}

/** Records which events a consumer has applied, inside the transaction of the effect. */
export interface InboxStore {
  /** Marks the events as processed by `consumer`; returns the ids that were new (the others are duplicates). */
  claim(consumer: string, eventIds: readonly string[]): Promise<Set<string>>;
}

/** A message on its way to or from the broker. */
export interface TransportMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** A committed outbox row, ready to publish. */
export interface OutboxRecord extends TransportMessage {
  readonly id: string;
  readonly createdAt: Date;
}

/** A claimed row the broker refused for what it is (see MessageRejectedError), as the relay reports it. */
export interface RejectedRow {
  /** The outbox row's id. */
  readonly id: string;
  /** The broker's word for the refusal (MESSAGE_TOO_LARGE, UNKNOWN_TOPIC_OR_PARTITION...). */
  readonly reason: string;
  /** The publisher's error message. */
  readonly error: string;
}

/** Where the relay takes committed rows from. */
export interface OutboxSource {
  /**
   * Claims up to `limit` rows whose key buckets no other relay holds and awaits `publish` on them in id order.
   * `publish` resolves once every row was either acknowledged or refused for good, and returns the refused
   * ones; the source then, in the claim, deletes the acknowledged rows and parks the refused ones (moves them
   * to the outbox's dead letters), so the rest of their bucket flows. If `publish` throws (an outage), nothing
   * changes: the rows stay for a later claim. Returns the number of rows claimed (published or parked).
   */
  drain(
    limit: number,
    publish: (rows: readonly OutboxRecord[]) => Promise<readonly RejectedRow[]>,
  ): Promise<number>;
  /** Resolves on the next commit notification or after `timeoutMs`, whichever is first. */
  waitForRows(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Rows waiting, the age of the oldest in milliseconds (0 when none), and rows parked as refused. */
  backlog(): Promise<{ pending: number; oldestAgeMs: number; parked: number }>;
}

/** Sends messages to the broker with acknowledgement from all in-sync replicas. */
export interface Publisher {
  /** Resolves when every message is acknowledged; messages with the same key keep their order. */
  publish(messages: readonly TransportMessage[]): Promise<void>;
}

/** A message received from the broker, with its position. */
export interface ReceivedMessage extends TransportMessage {
  readonly partition: number;
  readonly offset: string;
}

/** A consumer group's committed position: the next offset to read on one partition. */
export interface Position {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** What the transport hands a consumer: the messages of one partition in order, and a way to commit. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly ReceivedMessage[];
  /** Tells the group this member is alive during long work (retries). */
  readonly heartbeat: () => Promise<void>;
}

/** Options of a subscription. */
export interface SubscribeOptions {
  readonly group: string;
  readonly topics: readonly string[];
  /** Called with each partition's messages in order; the next batch of that partition waits for it. */
  readonly onBatch: (batch: PartitionBatch, subscription: Subscription) => Promise<void>;
}

/** A running consumer group member. */
export interface Subscription {
  /** Commits positions for the group (call only after the effects up to them are committed). */
  commit(positions: readonly Position[]): Promise<void>;
  /** Leaves the group after the batch in flight. */
  close(): Promise<void>;
}

/** Joins consumer groups. */
export interface Subscriber {
  /** Joins `group` and starts delivering; resolves once the member is running. */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
}

/** A topic the project creates, with its dead-letter topic. */
export interface TopicSpec {
  readonly topic: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
  readonly configs?: Readonly<Record<string, string>>;
}

/** Creates topics (the project never relies on auto-creation) and reads their retention. */
export interface TopicAdmin {
  /** Creates each topic and its `<topic>.dlq` when missing; returns the names created. */
  ensure(specs: readonly TopicSpec[]): Promise<string[]>;
  /**
   * How long a message of each existing topic may stay readable, in milliseconds (Kafka: retention.ms plus
   * segment.ms, since a segment is deleted whole; null: kept forever); topics that do not exist are left out.
   */
  retentionMs(topics: readonly string[]): Promise<Map<string, number | null>>;
}
