import assert from "node:assert/strict";
import {
  env,
  eventually,
  freePort,
  metricValue,
  scrape,
  spawnProcess,
  testDatabase,
  testTopics,
} from "./helpers.ts";
import { signedIn } from "./users.ts";

Deno.test("metrics of the API, relay and worker follow a like; lag and outbox age grow while a stage is down", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  const prefix = topic.slice(0, topic.indexOf("."));
  const group = `${prefix}.like-persistence-group`;
  const ports = { api: freePort(), relay: freePort(), worker: freePort() };
  const common = {
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: prefix,
    KAFKA_BROKERS: env.brokers.join(","),
    BATCH_FLUSH_MS: "100",
    RELAY_POLL_MS: "100",
  };
  const api = spawnProcess("api", { ...common, PORT: String(ports.api) });
  let relay = spawnProcess("relay", { ...common, METRICS_PORT: String(ports.relay) });
  let worker = spawnProcess("worker", { ...common, METRICS_PORT: String(ports.worker) });
  const up = (port: number) =>
    eventually(() => fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false), Boolean, {
      what: `health on ${port}`,
    });
  const users = await signedIn(db, [1, 2, 3, 4, 5]);
  const like = async (user: number) => {
    const response = await fetch(`http://127.0.0.1:${ports.api}/videos/1/likes`, {
      method: "POST",
      headers: users.get(String(user)),
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  };
  try {
    await Promise.all([up(ports.api), up(ports.relay), up(ports.worker)]);

    // given one like flowing through
    await like(1);
    await eventually(
      async () => metricValue(await scrape(ports.worker), "consumer_events_processed_total", { group }),
      (n) => n === 1,
      { what: "the worker to process the like" },
    );
    // then each process counts it
    const apiText = await scrape(ports.api);
    assert.equal(
      metricValue(apiText, "http_requests_total", {
        method: "POST",
        route: "/videos/:targetId/likes",
        status: "200",
      }),
      1,
    );
    assert.ok(metricValue(apiText, "http_request_duration_seconds_count", { method: "POST" }) >= 1);
    const relayText = await scrape(ports.relay);
    assert.equal(metricValue(relayText, "relay_events_published_total"), 1);
    assert.equal(metricValue(relayText, "relay_publish_batch_size_count"), 1);
    const workerText = await scrape(ports.worker);
    assert.equal(metricValue(workerText, "batch_processor_flush_size_sum", { group }), 1);
    assert.equal(metricValue(workerText, "consumer_events_dead_lettered_total", { group }), 0);
    assert.equal(metricValue(workerText, "consumer_lag", { group }), 0);

    // when the worker stops, the lag grows with each like
    assert.equal((await worker.stop("SIGTERM")).code, 0);
    for (const user of [2, 3, 4]) await like(user);
    await eventually(
      async () => metricValue(await scrape(ports.relay), "consumer_lag", { group, topic }),
      (n) => n === 3,
      { what: "lag 3 while the worker is down" },
    );
    // and when it is back, the lag returns to 0
    worker = spawnProcess("worker", { ...common, METRICS_PORT: String(ports.worker) });
    await eventually(
      async () => metricValue(await scrape(ports.relay), "consumer_lag", { group, topic }),
      (n) => n === 0,
      { timeoutMs: 60_000, what: "lag back to 0" },
    );

    // when the relay stops, the outbox backlog and its oldest row's age grow
    assert.equal((await relay.stop("SIGTERM")).code, 0);
    await like(5);
    const first = await scrape(ports.api);
    assert.equal(metricValue(first, "outbox_pending_rows"), 1);
    await new Promise((r) => setTimeout(r, 300));
    const later = await scrape(ports.api);
    assert.ok(
      metricValue(later, "outbox_oldest_age_seconds") > metricValue(first, "outbox_oldest_age_seconds"),
      "the oldest row ages",
    );
    relay = spawnProcess("relay", { ...common, METRICS_PORT: String(ports.relay) });
    await eventually(
      async () => metricValue(await scrape(ports.api), "outbox_pending_rows"),
      (n) => n === 0,
      {
        what: "the outbox to drain",
      },
    );
  } finally {
    await Promise.all([api.stop(), relay.stop(), worker.stop()]);
  }
});
