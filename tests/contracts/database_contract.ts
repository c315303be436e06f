/** Contract of the SQL adapters of the platform: outbox writer, inbox, relay claims (a neutral test event). */
import assert from "node:assert/strict";
import {
  PostgresInboxStore,
  PostgresOutboxSource,
  PostgresOutboxWriter,
} from "../../adapters/postgres/outbox_store.ts";
import { createEnvelope } from "../../outbox/envelope.ts";
import { EventTooLargeError } from "../../outbox/errors.ts";
import type { OutboxRecord } from "../../outbox/ports.ts";
import { lockNamespaceOf } from "../../bin/infrastructure.ts";
import type { OpenDb } from "./adapters.ts";

function event(key: string, seq: number) {
  return createEnvelope({
    eventType: "Counted",
    aggregateType: "counter",
    aggregateId: key,
    payload: { seq },
  });
}

async function drainAll(source: PostgresOutboxSource): Promise<OutboxRecord[]> {
  const published: OutboxRecord[] = [];
  const publish = (rows: readonly OutboxRecord[]) => {
    published.push(...rows);
    return Promise.resolve([]);
  };
  while ((await source.drain(7, publish)) > 0) { /* next */ }
  return published;
}

/** Registers the database contract for one adapter. */
export function databaseContract(name: string, open: OpenDb, options: { exclusive?: boolean } = {}): void {
  const source = (db: Awaited<ReturnType<OpenDb>>) =>
    new PostgresOutboxSource(db, {
      channel: `outbox_${db.schema}`,
      exclusive: options.exclusive,
      lockNamespace: lockNamespaceOf(db.schema),
    });

  Deno.test(`${name}: a rolled-back transaction leaves no event; a committed one is claimed`, async () => {
    await using db = await open();
    await assert.rejects(
      db.transaction(async (tx) => {
        await new PostgresOutboxWriter(tx).append("topic-a", [event("k", 1)]);
        throw new Error("roll back");
      }),
    );
    assert.deepEqual(await drainAll(source(db)), []);
    const committed = event("k", 2);
    await db.transaction((tx) => new PostgresOutboxWriter(tx).append("topic-a", [committed]));
    const published = await drainAll(source(db));
    assert.equal(published.length, 1);
    assert.equal(published[0].topic, "topic-a");
    assert.equal(published[0].key, "k");
    assert.equal(JSON.parse(published[0].value).eventId, committed.eventId);
    assert.equal(published[0].headers["event-id"], committed.eventId);
    assert.deepEqual(await source(db).backlog(), { pending: 0, oldestAgeMs: 0, parked: 0 });
  });

  Deno.test(`${name}: claims keep each key's commit order and delete what was published`, async () => {
    await using db = await open();
    for (let seq = 1; seq <= 20; seq++) {
      await db.transaction((tx) =>
        new PostgresOutboxWriter(tx).append("t", ["a", "b", "c"].map((key) => event(key, seq)))
      );
    }
    const backlog = await source(db).backlog();
    assert.equal(backlog.pending, 60);
    const published = await drainAll(source(db));
    for (const key of ["a", "b", "c"]) {
      const seqs = published.filter((r) => r.key === key).map((r) => JSON.parse(r.value).payload.seq);
      assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1), `order of ${key}`);
    }
    assert.equal((await source(db).backlog()).pending, 0);
  });

  Deno.test(`${name}: a failed publish leaves the rows for the next claim`, async () => {
    await using db = await open();
    await db.transaction((tx) => new PostgresOutboxWriter(tx).append("t", [event("k", 1), event("k", 2)]));
    await assert.rejects(source(db).drain(10, () => Promise.reject(new Error("broker down"))), /broker down/);
    assert.equal((await source(db).backlog()).parked, 0, "an outage parks nothing");
    const published = await drainAll(source(db));
    assert.deepEqual(published.map((r) => JSON.parse(r.value).payload.seq), [1, 2]);
  });

  Deno.test(`${name}: a refused row is parked whole in the claim; the others are deleted; the key flows`, async () => {
    await using db = await open();
    const events = [1, 2, 3, 4].map((seq) => event("k", seq));
    await db.transaction((tx) => new PostgresOutboxWriter(tx).append("t", events));
    const [refused] = await db.query<Record<string, unknown>>(
      `select id::text as id, bucket, topic, key, event_id::text as event_id, event_type, value, headers, created_at
       from outbox where event_id = $1`,
      [events[1].eventId],
    );
    const claimed: OutboxRecord[] = [];
    const count = await source(db).drain(3, (rows) => {
      claimed.push(...rows);
      return Promise.resolve([{
        id: String(refused.id),
        reason: "MESSAGE_TOO_LARGE",
        error: "x".repeat(10_000),
      }]);
    });
    assert.equal(count, 3);
    assert.deepEqual(claimed.map((r) => JSON.parse(r.value).payload.seq), [1, 2, 3]);

    const parked = await db.query<Record<string, unknown>>(
      `select id::text as id, bucket, topic, key, event_id::text as event_id, event_type, value, headers, created_at,
              reason, error, parked_at
       from outbox_dead_letters`,
    );
    assert.equal(parked.length, 1, "exactly the refused row is parked");
    const { reason, error, parked_at: parkedAt, ...row } = parked[0];
    assert.deepEqual(row, refused, "every column of the outbox row, its id included");
    assert.equal(reason, "MESSAGE_TOO_LARGE");
    assert.equal(typeof error, "string");
    assert.ok((error as string).startsWith("xxx") && (error as string).length <= 2000, "the error, bounded");
    assert.ok(parkedAt instanceof Date || typeof parkedAt === "string");
    assert.deepEqual(await source(db).backlog().then((b) => [b.pending, b.parked]), [1, 1]);

    const next = await drainAll(source(db));
    assert.deepEqual(next.map((r) => JSON.parse(r.value).payload.seq), [4], "the key's later row comes next");
    const [left] = await db.query<{ n: number }>("select count(*)::int as n from outbox");
    assert.equal(left.n, 0, "the published rows were deleted");
  });

  Deno.test(`${name}: the inbox returns only new event ids, and forgets a rolled-back claim`, async () => {
    await using db = await open();
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
    const first = await db.transaction((tx) => new PostgresInboxStore(tx).claim("group-1", [a]));
    assert.deepEqual([...first], [a]);
    const second = await db.transaction((tx) => new PostgresInboxStore(tx).claim("group-1", [a, b]));
    assert.deepEqual([...second], [b]);
    const otherGroup = await db.transaction((tx) => new PostgresInboxStore(tx).claim("group-2", [a]));
    assert.deepEqual([...otherGroup], [a], "each consumer has its own inbox");
    const c = crypto.randomUUID();
    await assert.rejects(db.transaction(async (tx) => {
      await new PostgresInboxStore(tx).claim("group-1", [c]);
      throw new Error("effect failed");
    }));
    const retried = await db.transaction((tx) => new PostgresInboxStore(tx).claim("group-1", [c]));
    assert.deepEqual([...retried], [c], "a rolled-back effect can be applied on redelivery");
  });

  Deno.test(`${name}: an event over the size bound is refused at write time and nothing commits`, async () => {
    await using db = await open();
    const big = createEnvelope({
      eventType: "Counted",
      aggregateType: "counter",
      aggregateId: "k",
      payload: { text: "x".repeat(5_000) },
    });
    await assert.rejects(
      db.transaction((tx) =>
        new PostgresOutboxWriter(tx, { maxEventBytes: 2_000 }).append("topic-a", [event("k", 1), big])
      ),
      (error: Error) => error instanceof EventTooLargeError && /limited to 2000 bytes/.test(error.message),
    );
    assert.deepEqual(await source(db).backlog(), { pending: 0, oldestAgeMs: 0, parked: 0 });
    await db.transaction((tx) =>
      new PostgresOutboxWriter(tx, { maxEventBytes: 2_000 }).append("topic-a", [event("k", 2)])
    );
    assert.equal((await source(db).backlog()).pending, 1, "an event under the bound is written");
  });

  Deno.test(`${name}: a commit notified while no relay loop waits still wakes the next wait`, async () => {
    await using db = await open();
    const relay = source(db);
    await relay.listen();
    try {
      // given a commit whose notification arrives while nobody waits (the loops are busy claiming)
      await db.transaction((tx) =>
        new PostgresOutboxWriter(tx, { channel: `outbox_${db.schema}` }).append("topic-a", [event("k", 1)])
      );
      await new Promise((resolve) => setTimeout(resolve, 300));

      // when a loop then waits with a poll interval of ten minutes, then it is woken at once
      let timer: ReturnType<typeof setTimeout> | undefined;
      const woken = await Promise.race([
        relay.waitForRows(600_000).then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 10_000)),
      ]);
      clearTimeout(timer);
      assert.equal(woken, true, "the notified commit was lost: the loop would wait for its poll");
    } finally {
      await relay.close();
    }
  });

  if (!options.exclusive) {
    Deno.test(`${name}: a bucket claimed by one relay is not claimed by another until the first commits`, async () => {
      await using db = await open();
      await db.transaction((tx) =>
        new PostgresOutboxWriter(tx).append("topic-a", [event("k", 1), event("k", 2)])
      );
      const first = source(db);
      const second = source(db);
      let release = () => {};
      const held = new Promise<void>((resolve) => release = resolve);
      let claimed: (rows: number) => void = () => {};
      const firstClaimed = new Promise<number>((resolve) => claimed = resolve);

      // given the first relay holding the key's bucket with a publish that waits
      const draining = first.drain(10, async (rows) => {
        claimed(rows.length);
        await held;
        return [];
      });
      assert.equal(await firstClaimed, 2);

      try {
        // when the second relay claims meanwhile, then it gets nothing of that key
        const seen: OutboxRecord[] = [];
        // Its publish refuses, so a claim that wrongly got the rows ends before touching the first claim's locks.
        const got = await second.drain(10, (rows) => {
          seen.push(...rows);
          return Promise.reject(new Error("claimed rows of a held bucket"));
        }).catch(() => -1);
        assert.deepEqual(
          seen.map((r) => JSON.parse(r.value).payload.seq),
          [],
          "the second relay saw held rows",
        );
        assert.equal(got, 0);
      } finally {
        // Released in any case: a claim left open would block dropping the schema.
        release();
      }
      // and once the first commits, the key's next row goes to whoever claims next, after the first two
      assert.equal(await draining, 2);
      await db.transaction((tx) => new PostgresOutboxWriter(tx).append("topic-a", [event("k", 3)]));
      const next = await drainAll(second);
      assert.deepEqual(next.map((r) => JSON.parse(r.value).payload.seq), [3]);
    });
  }
}
