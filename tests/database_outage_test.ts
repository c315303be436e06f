/**
 * PostgreSQL unreachable while a worker consumes: the group pauses and retries without limit (metric and
 * readiness say so), nothing is dead-lettered, and once the database answers every event is applied exactly once.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import type { ReceivedMessage } from "../outbox/ports.ts";
import {
  env,
  eventually,
  exitWithin,
  freePort,
  metricValue,
  readTopic,
  scrape,
  spawnProcess,
  tcpProxy,
  testDatabase,
  testTopics,
  uniqueId,
} from "./helpers.ts";
import { likesApi, namePrefixOf, relayFor } from "./fixtures.ts";
import { as } from "./users.ts";

/** The worker's readiness: HTTP status and each check's status (`{}` while it does not answer). */
async function readiness(port: number): Promise<{ status: number; checks: Record<string, string> }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
    const body = await response.json() as { checks?: Record<string, { status: string }> };
    const checks = Object.fromEntries(
      Object.entries(body.checks ?? {}).map(([name, check]) => [name, check.status]),
    );
    return { status: response.status, checks };
  } catch {
    return { status: 0, checks: {} };
  }
}

/**
 * Everything on a dead-letter topic, read up to a marker this function puts at the end of each partition:
 * once every marker is read, every message published before it was too.
 */
async function deadLetters(dlq: string, partitions: number): Promise<ReceivedMessage[]> {
  const marker = `marker-${uniqueId()}`;
  const producer = new Kafka({ brokers: env.brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    await producer.send({
      topic: dlq,
      acks: -1,
      messages: Array.from(
        { length: partitions },
        (_, partition) => ({ partition, key: marker, value: marker }),
      ),
    });
  } finally {
    await producer.disconnect();
  }
  const markersRead = (messages: readonly ReceivedMessage[]) =>
    new Set(messages.filter((m) => m.value === marker).map((m) => m.partition)).size;
  const messages = await readTopic(dlq, (seen) => markersRead(seen) === partitions, { timeoutMs: 60_000 });
  assert.equal(markersRead(messages), partitions, `the markers at the end of ${dlq} were read`);
  return messages.filter((m) => m.value !== marker);
}

Deno.test("PostgreSQL cut off while a worker consumes: it pauses, dead-letters nothing, and applies every event once", async () => {
  // given likes written through the API and a relay on the direct connection, and a worker that reaches
  // PostgreSQL only through a proxy
  await using db = await testDatabase();
  const partitions = 3;
  const [topic] = await testTopics(partitions, "interaction-events");
  const prefix = namePrefixOf(topic);
  const group = `${prefix}.like-persistence-group`;
  await using api = likesApi(db, topic);
  await using _relay = await relayFor(db);
  const proxyPort = freePort();
  const proxy = tcpProxy(proxyPort, Number(new URL(env.databaseUrl).port || 5432));
  proxy.open();
  const metricsPort = freePort();
  const worker = spawnProcess("worker", {
    DATABASE_URL: `postgres://postgres@127.0.0.1:${proxyPort}/postgres`,
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: prefix,
    KAFKA_BROKERS: env.brokers.join(","),
    REDIS_URL: env.redisUrl,
    METRICS_PORT: String(metricsPort),
    BATCH_FLUSH_MS: "100",
    RETRY_BASE_MS: "200",
  });

  // A writer liking video targets one new user at a time (signed in as it goes) until told to stop; the event
  // ids it got back.
  const videoBase = Math.floor(Math.random() * 1e9);
  const eventIds: string[] = [];
  let writing = true;
  const writer = (async () => {
    for (let user = 1; writing; user++) {
      const response = await api.app.request(`/videos/${videoBase + (user % 5)}/likes`, {
        method: "POST",
        headers: await as(db, user),
      });
      assert.equal(response.status, 200);
      eventIds.push((await response.json()).eventId);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  writer.catch(() => {}); // awaited below; a failure there fails the test
  const projected = async () =>
    (await db.query<{ n: number }>("select coalesce(sum(count), 0)::int as n from like_counts"))[0].n;
  // An outage must not kill the worker: if it exits before the test stops it, fail with the end of its log.
  let exitedWith: Deno.CommandStatus | undefined;
  worker.child.status.then((status) => exitedWith = status);
  const assertAlive = async () => {
    if (!exitedWith) return;
    await worker.stop("SIGKILL"); // joins its log
    const log = (await worker.log()).split("\n").filter((line) => line && !line.includes("readiness check"));
    throw new Error(
      `the worker exited (code ${exitedWith.code}) during the test; its log ends with:\n${
        log.slice(-8).join("\n")
      }`,
    );
  };
  const paused = async () => {
    try {
      return metricValue(await scrape(metricsPort), "consumer_paused", { group });
    } catch (error) {
      await exitWithin(worker.child, 1_000);
      await assertAlive();
      throw error;
    }
  };

  let workerExit: Deno.CommandStatus | undefined;
  try {
    await eventually(() => readiness(metricsPort), (ready) => ready.status === 200, {
      timeoutMs: 60_000,
      what: "the worker to be ready",
    });
    await eventually(projected, (n) => n >= 20, { what: "the worker to be consuming" });

    // when the database becomes unreachable from the worker while likes keep coming
    proxy.close();

    // then the group pauses: consumer_paused is 1 and the readiness check `consumers` is down; observed
    // without failing yet, so that the outage lasts long enough for a dead letter to show if one is sent
    const deadline = Date.now() + 30_000;
    let during = { paused: 0, consumers: "" };
    while (Date.now() < deadline && !(during.paused === 1 && during.consumers === "down")) {
      during = { paused: await paused(), consumers: (await readiness(metricsPort)).checks.consumers ?? "" };
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await assertAlive();
    const stillPaused = await paused();

    // when the database answers again, and a few more likes are written
    proxy.open();
    const atReopen = eventIds.length;
    await eventually(() => Promise.resolve(eventIds.length), (n) => n >= atReopen + 20, {
      what: "likes after the outage",
    });
    writing = false;
    await writer;

    // then the relay and the worker catch up: the outbox is empty and the group has committed everything
    await eventually(
      async () => (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n,
      (n) => n === 0,
      { timeoutMs: 60_000, what: "the relay to publish every like" },
    );
    const admin = new KafkaTopics({ brokers: env.brokers });
    await eventually(
      async () => {
        await assertAlive();
        return (await admin.lag(group, topic)).reduce((sum, p) => sum + p.lag, 0);
      },
      (lag) => lag === 0,
      { timeoutMs: 120_000, intervalMs: 500, what: "the worker to commit every event" },
    );

    // and nothing was dead-lettered
    const parked = await deadLetters(`${topic}.dlq`, partitions);
    assert.deepEqual(
      parked.map((m) => m.headers["event-id"]),
      [],
      "no event dead-lettered during the outage",
    );
    assert.equal(metricValue(await scrape(metricsPort), "consumer_events_dead_lettered_total", { group }), 0);

    // and nothing was lost or doubled: each event in the inbox once, the projection equals the likes written
    const inbox = await db.query<{ id: string }>("select event_id::text as id from inbox order by event_id");
    assert.deepEqual(inbox.map((row) => row.id), [...eventIds].sort());
    const counts = await db.query<{ target: string; n: number }>(
      "select target_id::text as target, count::int as n from like_counts order by target_id",
    );
    const likes = await db.query<{ target: string; n: number }>(
      "select target_id::text as target, count(*)::int as n from likes group by target_id order by target_id",
    );
    assert.deepEqual(counts.map((row) => ({ ...row })), likes.map((row) => ({ ...row })));
    assert.equal(likes.reduce((sum, row) => sum + row.n, 0), eventIds.length);

    // and the group had paused during the outage, and is running again
    assert.deepEqual(during, { paused: 1, consumers: "down" }, "paused during the outage");
    assert.equal(stillPaused, 1, "still paused 5 s later: retrying without limit");
    assert.equal(await paused(), 0, "resumed");
    await eventually(() => readiness(metricsPort), (ready) => ready.status === 200, {
      what: "the worker ready again",
    });
  } finally {
    writing = false;
    await writer.catch(() => {});
    try {
      worker.child.kill("SIGTERM");
    } catch { /* already gone */ }
    workerExit = await exitWithin(worker.child, 60_000);
    await worker.stop("SIGKILL");
    proxy.close();
  }
  assert.equal(workerExit?.code, 0, "the worker stopped cleanly on SIGTERM");
});
