import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import { PostgresOutboxSource } from "../adapters/postgres/outbox_store.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { modules } from "../bin/modules.ts";
import { startConsumerGroups, topicSpecs } from "../bin/runtime.ts";
import type { Publisher, Subscriber } from "../outbox/ports.ts";
import { startRelay } from "../outbox/relay.ts";
import {
  eventually,
  freePort,
  kafkaControl,
  readTopic,
  spawnProcess,
  testDatabase,
  testLogger,
  uniqueId,
} from "./helpers.ts";
import { likesApi, lockNamespaceOf, testModules } from "./fixtures.ts";
import { signedIn } from "./users.ts";

const port = 19092;
const brokers = [`127.0.0.1:${port}`];

type Transport = Publisher & Subscriber & { close(): Promise<void> };

/** The two Kafka clients; @platformatic/kafka is the processes' default (KAFKA_CLIENT unset). */
const clients: Record<string, () => Transport> = {
  kafkajs: () => new KafkajsTransport({ brokers }),
  "@platformatic/kafka": () => new PlatformaticTransport({ brokers }),
};

/** What the relay reported: failed claims and its current backoff. */
interface RelayReport {
  failures: number;
  backoffMs: number;
}

/** A relay over the test schema publishing through `transport`, reporting its failures and backoff. */
async function relayOn(db: SqlDatabase & { schema: string }, transport: Transport, report: RelayReport) {
  const source = new PostgresOutboxSource(db, {
    channel: `outbox_${db.schema}`,
    lockNamespace: lockNamespaceOf(db),
  });
  await source.listen();
  const relay = startRelay({
    source,
    publisher: transport,
    logger: testLogger,
    concurrency: 2,
    pollIntervalMs: 200,
    backoff: { maxRetries: 0, baseDelayMs: 100, factor: 2, maxDelayMs: 1000 },
    observer: {
      failed: () => report.failures++,
      backoff: (delayMs) => report.backoffMs = delayMs,
    },
  });
  return {
    async [Symbol.asyncDispose]() {
      await relay.stop();
      await source.close();
      await transport.close();
    },
  };
}

/** The registered consumer groups over the test schema, consuming through `transport`. */
async function consumersOn(
  db: SqlDatabase & { schema: string },
  topic: string,
  redis: Redis,
  transport: Transport,
) {
  const { built, config, metrics } = testModules(db, topic, redis, { KAFKA_BROKERS: brokers.join(",") });
  // Every group joins, the user center's too: the topics the test did not create are created on its broker.
  await new KafkaTopics({ brokers }).ensure(topicSpecs(modules, config));
  const consumers = await startConsumerGroups(built, { transport, config, logger: testLogger, metrics });
  return {
    async [Symbol.asyncDispose]() {
      for (const consumer of consumers) await consumer.stop();
      await transport.close();
    },
  };
}

/** The time (performance.now()) at which `port` first accepts a connection, while `starting` runs. */
async function firstAnswer(port: number, starting: Promise<void>): Promise<number> {
  let failed = false;
  starting.catch(() => failed = true);
  while (!failed) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const at = performance.now();
      conn.close();
      return at;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return await starting.then(() => performance.now());
}

for (const [client, transport] of Object.entries(clients)) {
  Deno.test(`${client}: writes while Kafka is stopped commit; the relay backs off, and once Kafka is back all arrive and the consumer resumes`, async () => {
    try {
      // given a broker of this test's own, a topic, the API, a relay and the consumers
      await kafkaControl("start", port);
      await using db = await testDatabase();
      const topic = `t${uniqueId()}.interaction-events`;
      await new KafkaTopics({ brokers }).ensure([{ topic, partitions: 2 }]);
      await using api = likesApi(db, topic);
      const relayed: RelayReport = { failures: 0, backoffMs: 0 };
      await using _relay = await relayOn(db, transport(), relayed);
      await using _consumers = await consumersOn(db, topic, api.redisHandle.prefixed, transport());
      const users = await signedIn(db, Array.from({ length: 101 }, (_, i) => i + 1));
      const like = (user: number) =>
        api.app.request(`/videos/${(user % 5) + 1}/likes`, {
          method: "POST",
          headers: users.get(String(user)),
        });
      assert.equal((await like(1)).status, 200);
      const pending = async () =>
        (await db.query<{ n: number }>("select count(*)::int as n from outbox"))[0].n;
      const projected = async () =>
        (await db.query<{ n: number }>("select coalesce(sum(count), 0)::int as n from like_counts"))[0].n;
      await eventually(pending, (n) => n === 0, { what: "the first like to be published" });
      await eventually(projected, (n) => n === 1, { what: "the first like to be counted" });

      // when Kafka stops and users keep liking
      await kafkaControl("stop", port);
      const eventIds: string[] = [];
      for (let user = 2; user <= 101; user++) {
        const response = await like(user);
        assert.equal(response.status, 200, "a write never waits on Kafka");
        eventIds.push((await response.json()).eventId);
      }

      // then the writes are committed and wait in the outbox, while the relay fails and backs off
      const [likes] = await db.query<{ n: number }>("select count(*)::int as n from likes");
      assert.equal(likes.n, 101);
      assert.equal(await pending(), 100);
      await eventually(() => Promise.resolve({ ...relayed }), (r) => r.failures > 0 && r.backoffMs > 0, {
        timeoutMs: 60_000,
        what: "the relay to report a failed claim and back off",
      });
      assert.equal(await pending(), 100, "a failed claim leaves its rows in the outbox");

      // and when Kafka is back, the relay catches up with nothing lost, and the consumers resume
      const restarting = kafkaControl("start", port);
      const answering = await firstAnswer(port, restarting);
      await restarting;
      await eventually(pending, (n) => n === 0, { timeoutMs: 90_000, what: "the relay to catch up" });
      const drainedMs = performance.now() - answering;
      await eventually(projected, (n) => n === 101, {
        timeoutMs: 90_000,
        what: "the consumer to count all 101 likes",
      });
      const projectedMs = performance.now() - answering;
      console.log(
        `${client}: after the broker answered again, the outbox was empty in ${Math.round(drainedMs)} ms ` +
          `and the projection complete in ${Math.round(projectedMs)} ms`,
      );
      assert.equal(relayed.backoffMs, 0, "the relay's backoff is back to 0 once it publishes again");
      const messages = await readTopic(topic, (seen) => seen.length >= 101, { brokers, timeoutMs: 30_000 });
      const onTopic = new Set(messages.map((m) => m.headers["event-id"]));
      for (const id of eventIds) assert.ok(onTopic.has(id), `event ${id} published after the outage`);
    } finally {
      await kafkaControl("reset", port);
    }
  });
}

Deno.test("the relay's /health/ready reports Kafka down within seconds, and up again when it returns", async () => {
  await using db = await testDatabase();
  const metricsPort = freePort();
  let relay: ReturnType<typeof spawnProcess> | undefined;
  const ready = async () => {
    try {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/health/ready`);
      return { status: response.status, body: await response.json() };
    } catch {
      return { status: 0, body: {} };
    }
  };
  try {
    await kafkaControl("start", port);
    relay = spawnProcess("relay", {
      DATABASE_SCHEMA: db.schema,
      KAFKA_BROKERS: brokers.join(","),
      METRICS_PORT: String(metricsPort),
    });
    const up = await eventually(ready, (r) => r.status === 200, { what: "ready" });
    assert.equal(up.body.checks.kafka.status, "up");
    assert.equal(up.body.checks.postgres.status, "up");

    await kafkaControl("stop", port);
    const down = await eventually(ready, (r) => r.status === 503, { timeoutMs: 15_000, what: "not ready" });
    assert.equal(down.body.checks.kafka.status, "down");
    assert.equal(down.body.checks.postgres.status, "up");
    // Status and latency only: an error's text would tell anyone who asks the hosts and roles behind it.
    assert.deepEqual(Object.keys(down.body.checks.kafka).sort(), ["latencyMs", "status"]);
    assert.doesNotMatch(JSON.stringify(down.body), /127\.0\.0\.1|ECONNREFUSED|Error/);

    await kafkaControl("start", port);
    await eventually(ready, (r) => r.status === 200, { timeoutMs: 60_000, what: "ready again" });
  } finally {
    await relay?.stop();
    await kafkaControl("reset", port);
  }
});
