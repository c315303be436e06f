/**
 * The in-process event transport of the embedded mode: a partitioned log in the database (PGlite or
 * PostgreSQL) with the Kafka adapter's guarantees: per-key order (key → partition), at-least-once delivery,
 * positions committed per consumer group, so a restart resumes where the group stopped.
 */
import type { Logger } from "../../application/ports.ts";
import { silentLogger } from "../../application/ports.ts";
import { bucketOf } from "../../outbox/buckets.ts";
import { deadLetterTopic } from "../../outbox/dead_letter.ts";
import { MessageRejectedError } from "../../outbox/errors.ts";
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
import { sleep } from "../../outbox/retry.ts";
import type { SqlDatabase } from "../postgres/sql_client.ts";

/** Options of the in-process transport. */
export interface InProcessTransportOptions {
  /** Poll interval when no publish in this process woke the consumers, in milliseconds (default 500). */
  readonly pollIntervalMs?: number;
  /** Messages per delivered batch (default 500). */
  readonly batchSize?: number;
  /** Pause after a wake-up before reading, so a burst is read at once (default 5 ms). */
  readonly settleMs?: number;
  /** Largest message accepted, key, value and headers in UTF-8 bytes (default 1 048 576, as Kafka's). */
  readonly maxMessageBytes?: number;
  /** How long messages are kept, as Kafka's retention.ms (default 7 days); null keeps them forever. */
  readonly retentionMs?: number | null;
  readonly logger?: Logger;
}

const sevenDaysMs = 7 * 86_400_000;
const utf8 = new TextEncoder();

/** What a message weighs against the size limit: its key, value and headers in UTF-8 bytes. */
function messageBytes(message: TransportMessage): number {
  let bytes = utf8.encode(message.key).length + utf8.encode(message.value).length;
  for (const [name, value] of Object.entries(message.headers)) {
    bytes += utf8.encode(name).length + utf8.encode(value).length;
  }
  return bytes;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

interface MessageRow {
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string> | string;
}

/** Publisher, Subscriber and topic administration over the database log. */
export class InProcessTransport implements Publisher, Subscriber, TopicAdmin {
  readonly #db: SqlDatabase;
  readonly #pollMs: number;
  readonly #batchSize: number;
  readonly #settleMs: number;
  readonly #maxMessageBytes: number;
  readonly #retentionMs: number | null;
  readonly #logger: Logger;
  readonly #partitions = new Map<string, number>();
  readonly #waiters = new Set<() => void>();
  readonly #subscriptions = new Set<Subscription>();

  constructor(db: SqlDatabase, options: InProcessTransportOptions = {}) {
    this.#db = db;
    this.#pollMs = options.pollIntervalMs ?? 500;
    this.#batchSize = options.batchSize ?? 500;
    this.#settleMs = options.settleMs ?? 5;
    this.#maxMessageBytes = options.maxMessageBytes ?? 1_048_576;
    // Not `??`: null is a value here (kept forever).
    this.#retentionMs = options.retentionMs === undefined ? sevenDaysMs : options.retentionMs;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Creates each topic and its `<topic>.dlq` when missing; returns the names created. Topic configs do not
   * apply here: the size limit and the retention are the transport's options, the same for every topic.
   */
  async ensure(specs: readonly TopicSpec[]): Promise<string[]> {
    const created: string[] = [];
    for (const spec of specs.flatMap((s) => [s, { ...s, topic: deadLetterTopic(s.topic) }])) {
      const rows = await this.#db.query(
        `insert into transport_partitions (topic, partition)
         select $1, p from generate_series(0, $2 - 1) as p on conflict do nothing returning 1`,
        [spec.topic, spec.partitions ?? 4],
      );
      if (rows.length > 0) created.push(spec.topic);
    }
    return created;
  }

  /** The topic's partition count; 0 when it does not exist (not remembered: it may be created later). */
  async #partitionCount(topic: string): Promise<number> {
    let count = this.#partitions.get(topic);
    if (count === undefined) {
      const [row] = await this.#db.query<{ n: number }>(
        "select count(*)::int as n from transport_partitions where topic = $1",
        [topic],
      );
      if (row.n === 0) return 0;
      count = row.n;
      this.#partitions.set(topic, count);
    }
    return count;
  }

  /**
   * Writes the batch in one transaction, all of it or (on an error) nothing. A message over the size limit or
   * for a topic that does not exist rejects the whole batch with MessageRejectedError before anything is written.
   */
  async publish(messages: readonly TransportMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const nothingWritten = messages.length === 1
      ? "nothing was written"
      : `nothing of its batch of ${messages.length} was written`;
    const groups = new Map<string, { topic: string; partition: number; list: TransportMessage[] }>();
    for (const message of messages) {
      const count = await this.#partitionCount(message.topic);
      if (count === 0) {
        throw new MessageRejectedError(
          "UNKNOWN_TOPIC_OR_PARTITION",
          `UNKNOWN_TOPIC_OR_PARTITION: topic ${message.topic} does not exist (topics are created by the ` +
            `project, never implicitly); ${nothingWritten}`,
        );
      }
      const bytes = messageBytes(message);
      if (bytes > this.#maxMessageBytes) {
        throw new MessageRejectedError(
          "MESSAGE_TOO_LARGE",
          `MESSAGE_TOO_LARGE: a message of ${bytes} bytes (key, value and headers) to ${message.topic} ` +
            `exceeds the limit of ${this.#maxMessageBytes} bytes; ${nothingWritten}`,
        );
      }
      const partition = bucketOf(message.key, count);
      const id = partitionKey(message.topic, partition);
      const group = groups.get(id) ?? { topic: message.topic, partition, list: [] };
      group.list.push(message);
      groups.set(id, group);
    }
    // Partition rows are locked in one global order, so concurrent publishers cannot deadlock.
    const ordered = [...groups.values()].sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
    );
    await this.#db.transaction(async (tx) => {
      for (const { topic, partition, list } of ordered) {
        // The row lock on the partition serializes publishers, so offsets follow publish order.
        const [{ first }] = await tx.query<{ first: string }>(
          `update transport_partitions set next_offset = next_offset + $3
           where topic = $1 and partition = $2 returning (next_offset - $3)::text as first`,
          [topic, partition, list.length],
        );
        await tx.query(
          `insert into transport_messages (topic, partition, "offset", key, value, headers)
           select $1, $2, $3::bigint + o - 1, k, v, h::jsonb
           from unnest($4::text[], $5::text[], $6::text[]) with ordinality as m(k, v, h, o)`,
          [
            topic,
            partition,
            first,
            list.map((m) => m.key),
            list.map((m) => m.value),
            list.map((m) => JSON.stringify(m.headers)),
          ],
        );
      }
    });
    for (const wake of this.#waiters) wake();
  }

  #wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        resolve();
      };
      this.#waiters.add(done);
      sleep(ms, signal).then(done);
    });
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const partitions: { topic: string; partition: number }[] = [];
    for (const topic of options.topics) {
      const count = await this.#partitionCount(topic);
      if (count === 0) {
        throw new Error(`unknown topic "${topic}": topics are created by the project (ensure)`);
      }
      for (let partition = 0; partition < count; partition++) partitions.push({ topic, partition });
    }
    const committed = await this.#db.query<{ topic: string; partition: number; next_offset: string }>(
      `select topic, partition, next_offset::text as next_offset from transport_positions
       where group_id = $1 and topic = any($2::text[])`,
      [options.group, options.topics],
    );
    const fetchAt = new Map<string, bigint>(
      committed.map((row) => [partitionKey(row.topic, row.partition), BigInt(row.next_offset)]),
    );
    const owned = new Set(partitions.map((p) => partitionKey(p.topic, p.partition)));
    const stopping = new AbortController();
    const db = this.#db;
    const subscription: Subscription = {
      async commit(positions: readonly Position[]) {
        // As a Kafka member: only the partitions it consumes, and a position never moves back (greatest).
        const mine = positions.filter((p) => owned.has(partitionKey(p.topic, p.partition)));
        if (mine.length === 0) return;
        await db.query(
          `insert into transport_positions (group_id, topic, partition, next_offset)
           select $1, t, p, o from unnest($2::text[], $3::int[], $4::bigint[]) as x(t, p, o)
           on conflict (group_id, topic, partition)
           do update set next_offset = greatest(transport_positions.next_offset, excluded.next_offset)`,
          [
            options.group,
            mine.map((p) => p.topic),
            mine.map((p) => p.partition),
            mine.map((p) => p.offset),
          ],
        );
      },
      close: async () => {
        stopping.abort();
        await running;
        this.#subscriptions.delete(subscription);
      },
    };

    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }

    const deliverOnce = async (): Promise<number> => {
      let delivered = 0;
      for (const [topic, numbers] of byTopic) {
        if (stopping.signal.aborted) break;
        // One query reads the next messages of every partition of the topic.
        const rows = await this.#db.query<MessageRow & { partition: number }>(
          `select m.partition, m."offset"::text as "offset", m.key, m.value, m.headers
           from unnest($2::int[], $3::bigint[]) as f(p, o)
           cross join lateral (
             select partition, "offset", key, value, headers from transport_messages
             where topic = $1 and partition = f.p and "offset" >= f.o
             order by transport_messages."offset" limit $4) as m`,
          [
            topic,
            numbers,
            numbers.map((p) => (fetchAt.get(partitionKey(topic, p)) ?? 0n).toString()),
            this.#batchSize,
          ],
        );
        for (const partition of numbers) {
          if (stopping.signal.aborted) break;
          const messages: ReceivedMessage[] = rows.filter((row) => row.partition === partition).map((
            row,
          ) => ({
            topic,
            partition,
            offset: row.offset,
            key: row.key,
            value: row.value,
            headers: typeof row.headers === "string" ? JSON.parse(row.headers) : row.headers,
          }));
          if (messages.length === 0) continue;
          await options.onBatch(
            { topic, partition, messages, heartbeat: () => Promise.resolve() },
            subscription,
          );
          fetchAt.set(partitionKey(topic, partition), BigInt(messages[messages.length - 1].offset) + 1n);
          delivered += messages.length;
        }
      }
      return delivered;
    };

    const running = (async () => {
      let failures = 0;
      while (!stopping.signal.aborted) {
        try {
          const delivered = await deliverOnce();
          failures = 0;
          if (delivered === 0) {
            await this.#wait(this.#pollMs, stopping.signal);
            // Let a burst of publishes land, so one read serves many of them.
            await sleep(this.#settleMs, stopping.signal);
          }
        } catch (error) {
          // Like a Kafka consumer: the batch is delivered again from the last fetched position.
          failures++;
          this.#logger.warn("in-process delivery failed; retrying", {
            group: options.group,
            error: String(error),
          });
          await sleep(Math.min(30_000, 200 * 2 ** Math.min(failures, 8)), stopping.signal);
        }
      }
    })();
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /** Messages not yet committed by `group`, per partition of `topic`. */
  async lag(group: string, topic: string): Promise<{ partition: number; lag: number }[]> {
    const rows = await this.#db.query<{ partition: number; lag: string }>(
      `select t.partition, (t.next_offset - coalesce(p.next_offset, 0))::text as lag
       from transport_partitions t
       left join transport_positions p on p.group_id = $1 and p.topic = t.topic and p.partition = t.partition
       where t.topic = $2 order by t.partition`,
      [group, topic],
    );
    return rows.map((row) => ({ partition: row.partition, lag: Number(row.lag) }));
  }

  /** Each existing topic's retention: the transport's `retentionMs` (null: kept forever); unknown topics left out. */
  async retentionMs(topics: readonly string[]): Promise<Map<string, number | null>> {
    const rows = await this.#db.query<{ topic: string }>(
      "select distinct topic from transport_partitions where topic = any($1::text[])",
      [[...topics]],
    );
    return new Map(rows.map((row) => [row.topic, this.#retentionMs]));
  }

  /**
   * Retention, as Kafka's `retention.ms`: deletes messages older than `olderThanMs` (default: the transport's
   * `retentionMs`; none when that is null), except those a group that has a position on the partition has not
   * consumed yet; returns how many.
   */
  async purge(olderThanMs?: number): Promise<number> {
    const age = olderThanMs ?? this.#retentionMs;
    if (age === null) return 0;
    const rows = await this.#db.query<{ n: number }>(
      `with gone as (
         delete from transport_messages m
         where m.created_at < now() - make_interval(secs => $1)
           and m."offset" < coalesce((select min(p.next_offset) from transport_positions p
                                      where p.topic = m.topic and p.partition = m.partition), m."offset" + 1)
         returning 1)
       select count(*)::int as n from gone`,
      [age / 1000],
    );
    return rows[0]?.n ?? 0;
  }

  /** Stops every subscription. */
  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
  }
}
