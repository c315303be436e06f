/** Contract of the SQL adapters: unit of work with outbox and inbox, relay claims, like stores. */
import assert from "node:assert/strict";
import {
  PostgresInboxStore,
  PostgresOutboxSource,
  PostgresOutboxWriter,
} from "../../adapters/postgres/outbox_store.ts";
import {
  interactionUnitOfWork,
  likeProjectionUnitOfWork,
} from "../../adapters/postgres/interaction/unit_of_work.ts";
import { PostgresLikeStore } from "../../adapters/postgres/interaction/like_store.ts";
import { createEnvelope } from "../../outbox/envelope.ts";
import type { OutboxRecord } from "../../outbox/ports.ts";
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
    new PostgresOutboxSource(db, { channel: `outbox_${db.schema}`, exclusive: options.exclusive });

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

  Deno.test(`${name}: like rows and the count projection, with ids beyond 2^53`, async () => {
    await using db = await open();
    const big = { type: "video" as const, id: "9223372036854775807" };
    const uow = interactionUnitOfWork(db);
    assert.equal(await uow.inTransaction((tx) => tx.likes.add("1", big, new Date())), true);
    assert.equal(await uow.inTransaction((tx) => tx.likes.add("1", big, new Date())), false);
    const queries = new PostgresLikeStore(db);
    assert.equal(await queries.isLiked("1", big), true);
    const counts = await likeProjectionUnitOfWork(db).inTransaction((tx) =>
      tx.likeCounts.apply([{ target: big, delta: 3 }, { target: { type: "comment", id: "5" }, delta: 1 }])
    );
    assert.deepEqual(counts.find((c) => c.target.type === "video"), { target: big, count: 3 });
    assert.equal(await queries.count(big), 3);
    assert.deepEqual((await queries.topCounts(1))[0], { target: big, count: 3 });
    await likeProjectionUnitOfWork(db).inTransaction((tx) =>
      tx.likeCounts.apply([{ target: { type: "video", id: "6" }, delta: 9 }, {
        target: { type: "video", id: "7" },
        delta: 10,
      }])
    );
    assert.deepEqual(
      (await queries.topCounts(2)).map((c) => c.count),
      [10, 9],
      "hottest first, compared as numbers",
    );
    assert.equal(await uow.inTransaction((tx) => tx.likes.remove("1", big)), true);
    assert.equal(await queries.isLiked("1", big), false);
  });
}
