/** The outbox, inbox and relay source on PostgreSQL (server or PGlite): the same SQL for both. */
import { bucketOf, defaultBucketCount, envelopeHeaders } from "../../outbox/buckets.ts";
import type { Envelope } from "../../outbox/envelope.ts";
import { EventTooLargeError } from "../../outbox/errors.ts";
import type {
  InboxStore,
  OutboxRecord,
  OutboxSource,
  OutboxWriter,
  RejectedRow,
} from "../../outbox/ports.ts";
import type { SqlClient, SqlDatabase } from "./sql_client.ts";

/** Settings shared by the writer and the relay; both sides must agree on them. */
export interface OutboxSettings {
  /** NOTIFY channel that wakes relays (default `outbox`). */
  readonly channel?: string;
  /** Number of key buckets (default 64). Change it only with an empty outbox. */
  readonly buckets?: number;
  /** Largest event (key, value and headers, in UTF-8 bytes) a write may append (default 900 000). */
  readonly maxEventBytes?: number;
}

const utf8 = new TextEncoder();

/** Writes envelopes into the outbox table in the caller's transaction and notifies relays at commit. */
export class PostgresOutboxWriter implements OutboxWriter {
  readonly #tx: SqlClient;
  readonly #channel: string;
  readonly #buckets: number;
  readonly #maxEventBytes: number;

  constructor(tx: SqlClient, settings: OutboxSettings = {}) {
    this.#tx = tx;
    this.#channel = settings.channel ?? "outbox";
    this.#buckets = settings.buckets ?? defaultBucketCount;
    this.#maxEventBytes = settings.maxEventBytes ?? 900_000;
  }

  async append(topic: string, events: readonly Envelope[]): Promise<void> {
    if (events.length === 0) return;
    const values = events.map((event) => JSON.stringify(event));
    const headers = events.map((event) => JSON.stringify(envelopeHeaders(event)));
    // Refused here, at write time, rather than by the broker later: the writer can still tell its caller.
    for (const [index, event] of events.entries()) {
      const bytes = utf8.encode(event.aggregateId + values[index] + headers[index]).length;
      if (bytes > this.#maxEventBytes) {
        throw new EventTooLargeError(event.eventType, bytes, this.#maxEventBytes);
      }
    }
    // NOTIFY is delivered at commit, and not at all on rollback.
    await this.#tx.query(
      `with inserted as (
         insert into outbox (bucket, topic, key, event_id, event_type, value, headers)
         select bucket, $2, key, event_id, event_type, value, headers::jsonb
         from unnest($1::int[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[])
           as e(bucket, key, event_id, event_type, value, headers)
         returning 1
       )
       select pg_notify($8, '') from (select count(*) from inserted) as done`,
      [
        events.map((event) => bucketOf(event.aggregateId, this.#buckets)),
        topic,
        events.map((event) => event.aggregateId),
        events.map((event) => event.eventId),
        events.map((event) => event.eventType),
        values,
        headers,
        this.#channel,
      ],
    );
  }
}

/** Records processed event ids per consumer in the caller's transaction. */
export class PostgresInboxStore implements InboxStore {
  readonly #tx: SqlClient;

  constructor(tx: SqlClient) {
    this.#tx = tx;
  }

  async claim(consumer: string, eventIds: readonly string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const rows = await this.#tx.query<{ event_id: string }>(
      `insert into inbox (consumer, event_id) select $1, unnest($2::uuid[])
       on conflict do nothing returning event_id::text`,
      [consumer, eventIds],
    );
    return new Set(rows.map((row) => row.event_id));
  }
}

/**
 * Deletes inbox rows processed more than `olderThanMs` before `now` (default: the database's clock, the one
 * that stamped `processed_at`); returns how many.
 */
export async function purgeInbox(
  db: SqlClient,
  olderThanMs: number,
  options: { readonly now?: Date } = {},
): Promise<number> {
  const rows = await db.query<{ deleted: number }>(
    `with gone as (
       delete from inbox
       where processed_at < coalesce($2::timestamptz, now()) - make_interval(secs => $1)
       returning 1
     )
     select count(*)::int as deleted from gone`,
    [olderThanMs / 1000, options.now?.toISOString() ?? null],
  );
  return rows[0]?.deleted ?? 0;
}

/** Relay settings. */
export interface OutboxSourceSettings extends OutboxSettings {
  /** Buckets one claim may hold; lower spreads work over more relay loops (default 8). */
  readonly bucketsPerClaim?: number;
  /** Advisory lock namespace (int4), so outboxes in different schemas do not block each other. */
  readonly lockNamespace?: number;
  /**
   * The only relay loop of a single-session database (PGlite): claims without a transaction, so `publish` may
   * use the same database. Requires relay concurrency 1; the order guarantee then holds trivially.
   */
  readonly exclusive?: boolean;
}

interface Row {
  id: string;
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string> | string;
  created_at: Date | string;
}

/**
 * Claims rows bucket by bucket: a claim transaction takes transaction-scoped advisory locks on buckets that have
 * rows and nobody holds, publishes their oldest rows, deletes them (parking the ones the broker refused in
 * outbox_dead_letters) and commits. The next rows of a bucket can be claimed only after that commit, so a key's
 * events reach the broker in id order whatever the number of relays.
 */
export class PostgresOutboxSource implements OutboxSource {
  readonly #db: SqlDatabase;
  readonly #channel: string;
  readonly #buckets: number;
  readonly #perClaim: number;
  readonly #namespace: number;
  readonly #exclusive: boolean;
  readonly #waiters = new Set<() => void>();
  #missedWake = false;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(db: SqlDatabase, settings: OutboxSourceSettings = {}) {
    this.#db = db;
    this.#channel = settings.channel ?? "outbox";
    this.#buckets = settings.buckets ?? defaultBucketCount;
    this.#perClaim = settings.bucketsPerClaim ?? 8;
    this.#namespace = settings.lockNamespace ?? 0x0b0c;
    this.#exclusive = settings.exclusive ?? false;
  }

  /** Starts listening for commit notifications. */
  async listen(): Promise<void> {
    this.#unlisten ??= await this.#db.listen(this.#channel, () => this.#wakeOne());
  }

  // One commit wakes one claim loop: waking them all would have every loop run a claim for a few rows. A loop
  // that claims a full batch goes on without waiting, and further commits wake further loops.
  // A commit notified while no loop waits (all busy claiming, or between an empty claim and its wait) is kept
  // for the next wait, which then returns at once: otherwise its row would wait for the poll.
  #wakeOne(): void {
    const [first] = this.#waiters;
    if (first) first();
    else this.#missedWake = true;
  }

  /** Stops listening and wakes any waiter. */
  async close(): Promise<void> {
    await this.#unlisten?.();
    this.#unlisten = undefined;
    this.#wakeAll();
  }

  #wakeAll(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  waitForRows(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    if (this.#missedWake) {
      this.#missedWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", wake);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      signal?.addEventListener("abort", wake, { once: true });
      this.#waiters.add(wake);
    });
  }

  drain(limit: number, publish: PublishClaim): Promise<number> {
    if (this.#exclusive) return this.#drainExclusive(limit, publish);
    const start = Math.floor(Math.random() * this.#buckets);
    const order = Array.from({ length: this.#buckets }, (_, i) => (start + i) % this.#buckets);
    return this.#db.transaction(async (tx) => {
      // CASE keeps the lock attempt behind the emptiness check: only buckets with rows get locked.
      const locked = await tx.query<{ bucket: number }>(
        `select b as bucket from unnest($1::int[]) as b
         where case when exists (select 1 from outbox where bucket = b)
                    then pg_try_advisory_xact_lock($2, b) else false end
         limit $3`,
        [order, this.#namespace, this.#perClaim],
      );
      if (locked.length === 0) return 0;
      const rows = await tx.query<Row>(
        `select id::text as id, topic, key, value, headers, created_at from outbox
         where bucket = any($1::int[]) order by outbox.id limit $2`,
        [locked.map((row) => row.bucket), limit],
      );
      if (rows.length === 0) return 0;
      await settleClaim(tx, rows, await publish(rows.map(toRecord)));
      return rows.length;
    });
  }

  async #drainExclusive(limit: number, publish: PublishClaim): Promise<number> {
    const rows = await this.#db.query<Row>(
      "select id::text as id, topic, key, value, headers, created_at from outbox order by outbox.id limit $1",
      [limit],
    );
    if (rows.length === 0) return 0;
    // No transaction here: settleClaim's single statement is what keeps deleting and parking together.
    await settleClaim(this.#db, rows, await publish(rows.map(toRecord)));
    return rows.length;
  }

  async backlog(): Promise<{ pending: number; oldestAgeMs: number; parked: number }> {
    const [row] = await this.#db.query<{ pending: number; age: number | null; parked: number }>(
      `select count(*)::int as pending,
              (extract(epoch from (now() - min(created_at))) * 1000)::float8 as age,
              (select count(*)::int from outbox_dead_letters) as parked
       from outbox`,
    );
    return { pending: row.pending, oldestAgeMs: Math.max(0, row.age ?? 0), parked: row.parked };
  }
}

type PublishClaim = (rows: readonly OutboxRecord[]) => Promise<readonly RejectedRow[]>;

/** Longest error text kept with a parked row: enough to diagnose, bounded whatever the publisher said. */
const parkedErrorLength = 2000;

/**
 * Ends a claim: deletes its rows and moves the refused ones to outbox_dead_letters, whole, in one statement, so
 * the two happen together even outside a transaction (the exclusive claim).
 */
async function settleClaim(
  db: SqlClient,
  rows: readonly Row[],
  rejected: readonly RejectedRow[],
): Promise<void> {
  const ids = rows.map((row) => row.id);
  const claimed = new Set(ids);
  // Keyed by id: a row reported twice is parked once, and a row not in this claim is never touched.
  const parked = [
    ...new Map(rejected.filter((row) => claimed.has(row.id)).map((row) => [row.id, row])).values(),
  ];
  if (parked.length === 0) {
    await db.query("delete from outbox where id = any($1::bigint[])", [ids]);
    return;
  }
  await db.query(
    `with claimed as (delete from outbox where id = any($1::bigint[]) returning *)
     insert into outbox_dead_letters
       (id, bucket, topic, key, event_id, event_type, value, headers, created_at, reason, error)
     select c.id, c.bucket, c.topic, c.key, c.event_id, c.event_type, c.value, c.headers, c.created_at,
            r.reason, r.error
     from claimed c join unnest($2::bigint[], $3::text[], $4::text[]) as r(id, reason, error) on r.id = c.id`,
    [
      ids,
      parked.map((row) => row.id),
      parked.map((row) => row.reason),
      parked.map((row) => row.error.slice(0, parkedErrorLength)),
    ],
  );
}

function toRecord(row: Row): OutboxRecord {
  return {
    id: row.id,
    topic: row.topic,
    key: row.key,
    value: row.value,
    headers: typeof row.headers === "string" ? JSON.parse(row.headers) : row.headers,
    createdAt: new Date(row.created_at),
  };
}
