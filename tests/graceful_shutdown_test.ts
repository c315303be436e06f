/**
 * Graceful shutdown: SIGTERM makes the worker apply what its BatchProcessor holds and commit the offsets, and the
 * API finish the requests in flight; a second signal ends a stop that hangs at once, with code 130.
 */
import assert from "node:assert/strict";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { createEnvelope } from "../outbox/envelope.ts";
import {
  env,
  eventually,
  exitWithin,
  freePort,
  metricValue,
  readiness,
  scrape,
  spawnProcess,
  testDatabase,
  testTopics,
  uniqueId,
} from "./helpers.ts";
import { likesApi, namePrefixOf, relayFor } from "./fixtures.ts";
import { signedIn } from "./users.ts";

/** Sends SIGTERM and waits up to `ms` for the exit; the status, or undefined if it had to be killed. */
async function terminate(process: ReturnType<typeof spawnProcess>, ms = 60_000) {
  try {
    process.child.kill("SIGTERM");
  } catch { /* already gone */ }
  const status = await exitWithin(process.child, ms);
  await process.stop("SIGKILL");
  return status;
}

/** Whether something accepts TCP connections on `port`. */
async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Runs `lock table <table> in exclusive mode` in a transaction held open until `release` is called. */
async function holdTableLock(db: SqlDatabase & { schema: string }, table: string) {
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  let taken = () => {};
  const locked = new Promise<void>((resolve) => taken = resolve);
  const holder = db.transaction(async (tx) => {
    await tx.query(`lock table ${table} in exclusive mode`);
    taken();
    await released;
  });
  await Promise.race([locked, holder]);
  return {
    /** Sessions waiting for this lock. */
    async waiting(): Promise<number> {
      const [row] = await db.query<{ n: number }>(
        "select count(*)::int as n from pg_locks where relation = to_regclass($1) and not granted",
        [`${db.schema}.${table}`],
      );
      return row.n;
    },
    async release() {
      release();
      await holder;
    },
  };
}

/**
 * A worker with a BatchProcessor that flushes neither by time nor by size during the test, holding `count` likes
 * of one video in its buffer: a message of a type it has no handler for, sent after them on their partition, is
 * counted as skipped on delivery, which tells the likes before it were delivered too.
 */
async function workerHoldingLikes(
  db: SqlDatabase & { schema: string },
  count: number,
  extraEnv: Record<string, string> = {},
) {
  const [topic] = await testTopics(3, "interaction-events");
  const prefix = namePrefixOf(topic);
  const group = `${prefix}.like-persistence-group`;
  const metricsPort = freePort();
  const worker = spawnProcess("worker", {
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: prefix,
    KAFKA_BROKERS: env.brokers.join(","),
    REDIS_URL: env.redisUrl,
    METRICS_PORT: String(metricsPort),
    BATCH_FLUSH_MS: "600000",
    BATCH_SIZE: "1000",
    ...extraEnv,
  });
  try {
    await eventually(() => readiness(metricsPort), (status) => status === 200, {
      timeoutMs: 60_000,
      what: "the worker to be ready",
    });
    const video = 1 + Math.floor(Math.random() * 1e9);
    await using api = likesApi(db, topic);
    const users = await signedIn(db, Array.from({ length: count }, (_, i) => i + 1));
    for (const headers of users.values()) {
      const response = await api.app.request(`/videos/${video}/likes`, { method: "POST", headers });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    const keys = await db.query<{ key: string }>("select distinct key from outbox");
    assert.equal(keys.length, 1, "one key, one partition");
    {
      await using _relay = await relayFor(db);
      await eventually(
        async () => (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n,
        (n) => n === 0,
        { what: "the relay to publish the likes" },
      );
    }
    const marker = createEnvelope({
      eventType: "test.Marker",
      aggregateType: "test",
      aggregateId: "marker",
      payload: {},
    });
    const transport = new KafkajsTransport({ brokers: env.brokers });
    try {
      await transport.publish([{ topic, key: keys[0].key, value: JSON.stringify(marker), headers: {} }]);
    } finally {
      await transport.close();
    }
    await eventually(
      async () => metricValue(await scrape(metricsPort), "consumer_events_skipped_total", { group }),
      (n) => n === 1,
      { what: "the worker to receive the likes and the marker after them" },
    );
    // Still in the buffer: nothing applied, nothing committed.
    assert.equal(metricValue(await scrape(metricsPort), "consumer_events_processed_total", { group }), 0);
    assert.equal((await db.query("select 1 from like_counts")).length, 0);
    return { worker, topic, group, video };
  } catch (error) {
    await worker.stop("SIGKILL");
    throw error;
  }
}

/** Lag of `group` on `topic` from its committed offsets (kafkajs admin fetchOffsets), all partitions. */
async function committedLag(group: string, topic: string): Promise<number> {
  const lags = await new KafkaTopics({ brokers: env.brokers }).lag(group, topic);
  return lags.reduce((sum, p) => sum + p.lag, 0);
}

Deno.test("SIGTERM to a worker whose BatchProcessor holds events: they are applied and their offsets committed", async () => {
  // given a worker holding 20 likes in its buffer (flush every 10 min, at 1 000)
  await using db = await testDatabase();
  const { worker, topic, group, video } = await workerHoldingLikes(db, 20);
  try {
    // when it gets SIGTERM
    const exit = await terminate(worker);
    assert.equal(exit?.code, 0, "the worker stopped cleanly");

    // then the likes were applied once each
    const counts = await db.query<{ target: string; n: number }>(
      "select target_id::text as target, count::int as n from like_counts",
    );
    assert.deepEqual(counts.map((row) => ({ ...row })), [{ target: String(video), n: 20 }]);
    assert.equal((await db.query<{ n: number }>("select count(*)::int as n from inbox"))[0].n, 20);
    // and the group's offsets were committed past them (and the marker): a new member receives nothing
    assert.equal(await committedLag(group, topic), 0);
  } finally {
    await worker.stop("SIGKILL");
  }
});

Deno.test("SIGTERM to the API with requests in flight: they complete with 200 and their rows are committed", async () => {
  // given the API, and a transaction of the test holding the likes table, so like requests wait inside theirs
  await using db = await testDatabase();
  const port = freePort();
  const api = spawnProcess("api", {
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: `t${uniqueId()}`,
    REDIS_URL: env.redisUrl,
    PORT: String(port),
    DATABASE_POOL: "20",
    SHUTDOWN_TIMEOUT_MS: "60000",
  });
  let lock: Awaited<ReturnType<typeof holdTableLock>> | undefined;
  try {
    await eventually(() => readiness(port), (status) => status === 200, {
      timeoutMs: 60_000,
      what: "the API to be ready",
    });
    const video = 1 + Math.floor(Math.random() * 1e9);
    // Users of this test's own: the API's per-user rate limit lives in the shared Redis.
    const firstUser = 1 + Math.floor(Math.random() * 1e9);
    const users = Array.from({ length: 10 }, (_, i) => firstUser + i);
    const signed = await signedIn(db, users);
    lock = await holdTableLock(db, "likes");
    let settled = 0;
    const requests = users.map((user) =>
      fetch(`http://127.0.0.1:${port}/videos/${video}/likes`, {
        method: "POST",
        headers: signed.get(String(user)),
      }).then(
        async (response) => ({ user, status: response.status, body: await response.json() }),
        (error) => ({ user, status: 0, body: String(error) }),
      ).finally(() => settled++)
    );
    // every request is in flight: its transaction waits for the table lock
    await eventually(() => lock!.waiting(), (n) => n === users.length, {
      what: "every like request waiting in its transaction",
    });

    // when the API gets SIGTERM, and has begun to stop (its listener is closed) while the requests still wait
    api.child.kill("SIGTERM");
    await eventually(() => accepts(port), (open) => !open, { what: "the API to stop accepting connections" });
    assert.equal(settled, 0, "no request had an answer when the stop began");
    assert.equal(await lock.waiting(), users.length, "every request was in flight when the stop began");
    // and the requests are slow: they wait 6 s more (longer than the 5 s the database pool's close grants the
    // queries in flight, so a stop that closed the pool without draining would cut every one of them)
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    assert.equal(settled, 0, "the requests still wait while the API stops");
    await lock.release();

    // then every request completes with 200, and the API exits cleanly
    const answers = await Promise.all(requests);
    assert.deepEqual(answers.map((a) => [a.user, a.status]), users.map((user) => [user, 200]));
    const exit = await exitWithin(api.child, 30_000);
    assert.equal(exit?.code, 0, "the API exited cleanly after draining");

    // and each like and its event were committed
    const likes = await db.query<{ user: number }>(
      "select user_id::int as user from likes where target_id = $1 order by user_id",
      [video],
    );
    assert.deepEqual(likes.map((row) => row.user), users);
    const outbox = await db.query<{ id: string }>(
      "select event_id::text as id from outbox order by event_id",
    );
    assert.deepEqual(
      outbox.map((row) => row.id),
      answers.map((a) => (a.body as { eventId: string }).eventId).sort(),
    );
  } finally {
    await lock?.release();
    await api.stop("SIGKILL");
  }
});

Deno.test("a second SIGTERM during a stop that hangs exits at once with code 130", async () => {
  // given a worker holding likes in its buffer, with a stop deadline of 10 min, and its final flush bound to
  // wait: a transaction of the test holds the like_counts table (the database answers, so this is no outage
  // that would end the stop early; it is a stop that hangs)
  await using db = await testDatabase();
  const { worker, topic, group } = await workerHoldingLikes(db, 5, { SHUTDOWN_TIMEOUT_MS: "600000" });
  let lock: Awaited<ReturnType<typeof holdTableLock>> | undefined;
  try {
    lock = await holdTableLock(db, "like_counts");

    // when it gets SIGTERM, then its final flush waits for the lock, and it is still running seconds later
    worker.child.kill("SIGTERM");
    await eventually(() => lock!.waiting(), (n) => n === 1, {
      what: "the worker's final flush to wait for the lock",
    });
    assert.equal(await exitWithin(worker.child, 3_000), undefined, "the first SIGTERM's stop hangs");

    // when it gets a second SIGTERM, then it exits at once with code 130
    worker.child.kill("SIGTERM");
    const exit = await exitWithin(worker.child, 15_000);
    assert.equal(exit?.code, 130, "the second SIGTERM ends the process with 130");

    // and the abandoned flush committed nothing: the likes and the marker wait for the group's next member
    await lock.release();
    assert.equal((await db.query("select 1 from like_counts")).length, 0);
    assert.equal(await committedLag(group, topic), 6);
  } finally {
    await lock?.release();
    await worker.stop("SIGKILL");
  }
});
