/**
 * Processes started while their dependencies are down wait for them: they report not-ready, log one line per
 * attempt, never die of an unhandled rejection, and work once the dependencies answer.
 */
import assert from "node:assert/strict";
import {
  env,
  eventually,
  exitWithin,
  freePort,
  kafkaControl,
  readiness,
  spawnProcess,
  tcpProxy,
  testDatabase,
  uniqueId,
} from "./helpers.ts";
import { as } from "./users.ts";

const kafkaPort = 19094;

Deno.test("api, relay and worker started with PostgreSQL and Kafka unreachable wait, and work once they answer", async () => {
  // given a migrated schema, PostgreSQL reachable only through a proxy that is closed, and no broker
  await using db = await testDatabase();
  // and account 7, created now through the test's own connection (the processes cannot reach PostgreSQL yet)
  const user7 = await as(db, 7);
  const pgPort = freePort();
  const proxy = tcpProxy(pgPort, Number(new URL(env.databaseUrl).port || 5432));
  const prefix = `t${uniqueId()}`;
  const common = {
    DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/postgres`,
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: prefix,
    KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
    REDIS_URL: env.redisUrl,
    BATCH_FLUSH_MS: "100",
    RELAY_POLL_MS: "200",
    TOPIC_PARTITIONS: "2",
  };
  const ports = { api: freePort(), relay: freePort(), worker: freePort() };
  const started = performance.now();
  const processes = [
    spawnProcess("api", { ...common, PORT: String(ports.api) }),
    spawnProcess("relay", { ...common, METRICS_PORT: String(ports.relay) }),
    spawnProcess("worker", { ...common, METRICS_PORT: String(ports.worker) }),
  ];
  try {
    // then each serves /health/ready with 503, and the API answers its routes with a 503 problem
    for (const port of Object.values(ports)) {
      await eventually(() => readiness(port), (status) => status === 503, { what: `503 on :${port}` });
    }
    const early = await fetch(`http://127.0.0.1:${ports.api}/videos/1/likes`);
    assert.equal(early.status, 503);
    assert.equal((await early.json()).type, "urn:problem:starting");
    const signedEarly = await fetch(`http://127.0.0.1:${ports.api}/videos/1/likes`, { headers: user7 });
    assert.equal(signedEarly.status, 503, "a signed-in request too: no account can be checked yet");
    await signedEarly.body?.cancel();

    // when PostgreSQL answers, then the API takes writes while Kafka is still down
    proxy.open();
    const liked = await eventually(
      async () => {
        const response = await fetch(`http://127.0.0.1:${ports.api}/videos/42/likes`, {
          method: "POST",
          headers: user7,
        });
        await response.body?.cancel();
        return response.status;
      },
      (status) => status === 200,
      { timeoutMs: 60_000, what: "the API to take a like" },
    );
    assert.equal(liked, 200);
    assert.equal(await readiness(ports.worker), 503, "the worker is not ready without Kafka");

    // when the broker starts 20 s after the processes
    const wait = 20_000 - (performance.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await kafkaControl("start", kafkaPort);
    const kafkaUp = performance.now();

    // then the like reaches the projection, and every process becomes ready
    await eventually(
      async () =>
        (await db.query<{ n: string }>("select count::text as n from like_counts where target_id = 42"))[0]
          ?.n,
      (n) => n === "1",
      { timeoutMs: 120_000, intervalMs: 250, what: "the like projected after Kafka returned" },
    );
    const resumedSeconds = (performance.now() - kafkaUp) / 1000;
    for (const port of Object.values(ports)) {
      await eventually(() => readiness(port), (status) => status === 200, {
        timeoutMs: 60_000,
        what: `ready :${port}`,
      });
    }
    console.log(`  (like projected ${resumedSeconds.toFixed(1)} s after the broker answered)`);
  } finally {
    const statuses = await Promise.all(processes.map((p) => p.stop("SIGTERM")));
    proxy.close();
    await kafkaControl("reset", kafkaPort);
    for (const status of statuses) {
      assert.equal(status.code, 0, "each process ran until SIGTERM and stopped cleanly");
    }
  }
});

Deno.test("a process configured with another bucket count than the database recorded exits, naming both values", async () => {
  // given a database migrated with 64 buckets
  await using db = await testDatabase();

  // when a relay starts with OUTBOX_BUCKETS=128
  const relay = spawnProcess("relay", {
    DATABASE_SCHEMA: db.schema,
    KAFKA_BROKERS: env.brokers.join(","),
    OUTBOX_BUCKETS: "128",
    METRICS_PORT: String(freePort()),
  });
  const status = await exitWithin(relay.child, 60_000);
  await relay.stop("SIGKILL");

  // then it exits with code 2 and says which values disagree, instead of running half started
  assert.ok(status, "the relay kept running with a mismatched bucket count");
  assert.equal(status.code, 2);
  const log = await relay.log();
  assert.match(log, /OUTBOX_BUCKETS=128/);
  assert.match(log, /bucket count 64/);
});

Deno.test("deno task start with an unreachable broker waits, not ready, logging each attempt; SIGTERM ends it cleanly", async () => {
  // given PostgreSQL and a broker address where nothing listens
  await using db = await testDatabase();
  const port = freePort();
  const start = spawnProcess("start", {
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: `t${uniqueId()}`,
    KAFKA_BROKERS: `127.0.0.1:${freePort()}`,
    PORT: String(port),
    LOG_LEVEL: "info",
  });
  try {
    // then it answers /health, reports not ready and refuses the routes while it waits for the broker
    await eventually(() => readiness(port), (status) => status === 503, { what: "503 from start" });
    // ...and stays so while it retries (backing off from 0.5 s: several attempts in these 5 s)
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      assert.equal(await readiness(port), 503);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const route = await fetch(`http://127.0.0.1:${port}/videos/1/likes`);
    assert.equal(route.status, 503);
    await route.body?.cancel();
  } finally {
    // and a stop signal ends the waiting start cleanly
    const status = await start.stop("SIGTERM");
    assert.equal(status.code, 0);
  }
  const log = await start.log();
  assert.doesNotMatch(log, /Uncaught|unhandled rejection/);
  assert.ok(
    (log.match(/waiting for the broker/g) ?? []).length >= 2,
    `one line per attempt:\n${log.slice(-1500)}`,
  );
});
