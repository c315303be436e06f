import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { interactionUnitOfWork } from "../adapters/postgres/interaction/unit_of_work.ts";
import { MemoryLikeCache } from "../adapters/memory/interaction/like_cache.ts";
import { setLike } from "../application/interaction/set_like.ts";
import { systemClock } from "../application/ports.ts";
import type { ReceivedMessage } from "../outbox/ports.ts";
import {
  env,
  eventually,
  metricValue,
  readTopic,
  spawnProcess,
  testDatabase,
  testLogger,
  testRedis,
  testTopics,
} from "./helpers.ts";
import { likeConsumerFor } from "./fixtures.ts";

const total = 10_000;
const videos = 50;
/** Writer w writes the likes of users w + 1, w + 1 + writers...: all the events of its videos, one by one. */
const writers = 10;

const kafka = new Kafka({ brokers: env.brokers, logLevel: logLevel.NOTHING });

/** Each partition's end offset (`high`) and start (`low`), as the broker has them now. */
async function topicEnds(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, { low: BigInt(p.low), high: BigInt(p.high) }]));
  } finally {
    await admin.disconnect();
  }
}

/** The group's committed offset of each partition (-1: none). */
async function committedOffsets(group: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map(offsets?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Every message of `topic` up to the end offsets it has now, each once (by partition and offset, should the
 * reader be handed a batch twice), in partition and offset order.
 */
async function readToEnd(topic: string): Promise<ReceivedMessage[]> {
  const ends = await topicEnds(topic);
  const expected = [...ends.values()].reduce((sum, { low, high }) => sum + Number(high - low), 0);
  const reachedEnds = (seen: readonly ReceivedMessage[]) => {
    const last = new Map<number, bigint>();
    for (const m of seen) {
      if (BigInt(m.offset) > (last.get(m.partition) ?? -1n)) last.set(m.partition, BigInt(m.offset));
    }
    return [...ends].every(([partition, { low, high }]) =>
      high === low || (last.get(partition) ?? -1n) >= high - 1n
    );
  };
  const seen = await readTopic(topic, reachedEnds, { timeoutMs: 60_000 });
  assert.ok(reachedEnds(seen), "the reader reached the end offset of every partition");
  const unique = new Map(seen.map((m) => [`${m.partition}:${m.offset}`, m]));
  assert.equal(unique.size, expected, "one message per offset between the start and end offsets");
  return [...unique.values()].sort((a, b) =>
    a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset))
  );
}

Deno.test(`a relay killed with SIGKILL between publish and commit, mid-stream of ${total} events: none lost, redelivered copies skipped by the inbox, per-key order kept`, async () => {
  await using db = await testDatabase({ max: 20 });
  const [topic] = await testTopics(6, "interaction-events");
  const prefix = topic.slice(0, topic.indexOf("."));
  const group = `${prefix}.like-persistence-group`;
  const relayEnv = {
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: prefix,
    KAFKA_BROKERS: env.brokers.join(","),
    RELAY_BATCH_SIZE: "100",
  };
  const deps = {
    unitOfWork: interactionUnitOfWork(db, { channel: `outbox_${db.schema}` }),
    cache: new MemoryLikeCache(),
    clock: systemClock,
    logger: testLogger,
    topic,
  };
  const pending = async () => (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n;

  // given a relay process and writers committing a stream of likes (user n likes video n % 50 + 1); each video
  // has one writer, which commits its events one after the other: their commit order is the order written
  const first = spawnProcess("relay", relayEnv);
  let second: ReturnType<typeof spawnProcess> | undefined;
  const committedOrder = new Map<string, string[]>();
  let written = 0;
  let stopWriting = false;
  const writer = async (w: number) => {
    for (let user = w + 1; user <= total && !stopWriting; user += writers) {
      const video = String((user % videos) + 1);
      const result = await setLike(deps, {
        userId: String(user),
        target: { type: "video", id: video },
        action: 1,
      });
      assert.ok(result.eventId);
      committedOrder.set(video, [...(committedOrder.get(video) ?? []), result.eventId]);
      written++;
    }
  };
  const writing = Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));

  // A transaction of the test's own locks a few pending rows: the relay claim that takes them publishes them,
  // then waits on its delete. Killing the relay then lands between publish and commit for sure.
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  let holding: Promise<unknown> = Promise.resolve();
  try {
    // when the relay has published part of the stream
    await eventually(async () => written - (await pending()), (published) => published >= 1500, {
      timeoutMs: 60_000,
      what: "the first relay to publish 1 500 events",
    });
    const locked = Promise.withResolvers<{ pid: number; eventIds: string[] }>();
    holding = db.transaction(async (tx) => {
      const [{ pid }] = await tx.query<{ pid: number }>("select pg_backend_pid() as pid");
      for (;;) {
        const rows = await tx.query<{ event_id: string }>(
          "select event_id::text from outbox order by id limit 20 for update skip locked",
        );
        if (rows.length > 0) {
          locked.resolve({ pid, eventIds: rows.map((row) => row.event_id) });
          break;
        }
        if (written === total) throw new Error("the stream ended before a pending row could be locked");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await released;
    }).catch((error) => locked.reject(error));
    const { pid, eventIds: heldEvents } = await locked.promise;
    // and one of its claims has published rows of the test's and waits to delete them, it is killed
    const blocked = await eventually(
      () =>
        db.query<{ pid: number }>("select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))", [
          pid,
        ]),
      (rows) => rows.length > 0,
      { timeoutMs: 30_000, what: "a relay claim to wait on the test's row locks after publishing" },
    );
    assert.ok(blocked.length > 0);
    const killed = await first.stop("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
    release();
    await holding;
    await writing;
    assert.equal(written, total);
    const left = await pending();
    assert.ok(left > 0 && left < total, `rows were left mid-stream (${left})`);

    // and a new relay starts
    second = spawnProcess("relay", relayEnv);
    await eventually(pending, (n) => n === 0, { timeoutMs: 90_000, what: "the outbox to drain" });
    const stopped = await second.stop("SIGTERM");
    assert.equal(stopped.code, 0, "SIGTERM ends the relay cleanly");

    // then every committed event is on the topic, the killed claim's ones twice
    const messages = await readToEnd(topic);
    const copies = new Map<string, number>();
    for (const m of messages) copies.set(m.headers["event-id"], (copies.get(m.headers["event-id"]) ?? 0) + 1);
    const eventIds = [...committedOrder.values()].flat();
    assert.equal(eventIds.length, total);
    for (const id of eventIds) assert.ok(copies.has(id), `event ${id} reached the topic`);
    assert.equal(copies.size, total, "nothing on the topic but the committed events");
    const redelivered = messages.length - total;
    assert.ok(redelivered > 0, "the killed claim's rows were published again");
    assert.ok(
      heldEvents.some((id) => (copies.get(id) ?? 0) >= 2),
      "a row the killed claim had published is on the topic twice",
    );

    // and for each key, the first copy of each event comes in the order the events were committed
    const firstCopies = new Map<string, string[]>();
    const keyOf = new Map<string, string>();
    for (const m of messages) {
      const id = m.headers["event-id"];
      if (keyOf.has(id)) continue;
      keyOf.set(id, m.key);
      firstCopies.set(m.key, [...(firstCopies.get(m.key) ?? []), id]);
    }
    assert.equal(firstCopies.size, videos);
    for (const [video, order] of committedOrder) {
      assert.deepEqual(firstCopies.get(`video:${video}`), order, `order of video:${video}`);
    }

    // and the consumer applies each once: every redelivered copy is counted as a duplicate
    await using redis = testRedis();
    await using consumer = await likeConsumerFor(db, topic, redis);
    const ends = await topicEnds(topic);
    await eventually(
      () => committedOffsets(group, topic),
      (committed) =>
        [...ends].every(([p, { low, high }]) => (committed.get(p) ?? -1n) === high || high === low),
      { timeoutMs: 60_000, what: "the group's committed offsets to reach the end offsets (lag 0)" },
    );
    const metrics = await consumer.metrics.registry.metrics();
    assert.equal(metricValue(metrics, "consumer_events_duplicate_total", { group }), redelivered);
    assert.equal(metricValue(metrics, "consumer_events_processed_total", { group }), total);
    const [sum] = await db.query<{ n: number }>("select coalesce(sum(count), 0)::int as n from like_counts");
    assert.equal(sum.n, total);
    const mismatches = await db.query(
      `select t.target_id from (select target_id, count(*) as n from likes group by 1) t
       full join like_counts c using (target_id) where t.n is distinct from c.count`,
    );
    assert.equal(mismatches.length, 0, "each target's projected count equals its like rows");
    const inbox = await db.query<{ n: number }>("select count(*)::int as n from inbox");
    assert.equal(inbox[0].n, total);
  } finally {
    stopWriting = true;
    release();
    await holding;
    await writing.catch(() => {});
    await first.stop("SIGKILL");
    await second?.stop("SIGKILL");
  }
});
