/**
 * A context is new files plus one line in the module list: a neutral test context (its own migration folder,
 * topic, routes, consumer group, job, start-up hook and check) runs through the platform runtime beside the
 * registered modules, with nothing of the platform changed.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { consumerGroup, type ContextModule } from "../adapters/context_module.ts";
import { createApp } from "../adapters/http/app.ts";
import { InProcessTransport } from "../adapters/inprocess/transport.ts";
import { Metrics } from "../adapters/metrics/prometheus.ts";
import { MemoryLock } from "../adapters/memory/lock.ts";
import { migrate } from "../adapters/postgres/migrate.ts";
import { PostgresInboxStore, PostgresOutboxWriter } from "../adapters/postgres/outbox_store.ts";
import type { SqlClient } from "../adapters/postgres/sql_client.ts";
import { sqlUnitOfWork } from "../adapters/postgres/unit_of_work.ts";
import { modules } from "../bin/modules.ts";
import {
  buildModules,
  checksOf,
  ensureTopics,
  jobsOf,
  migrationScopes,
  routesOf,
  runStartHooks,
  startConsumerGroups,
  startJobs,
  startRelayLoops,
  subscriptionsOf,
} from "../bin/runtime.ts";
import { createEnvelope } from "../outbox/envelope.ts";
import { testConfig } from "./fixtures.ts";
import { eventually, metricValue, testDatabase, testLogger, uniqueId } from "./helpers.ts";

/** The probe context: notes written through the outbox, a group recording what it saw. */
async function probeModule(jobRuns: { count: number }): Promise<ContextModule> {
  const folder = await Deno.makeTempDir({ prefix: "probe-migrations-" });
  await Deno.writeTextFile(
    `${folder}/0001_notes.sql`,
    "create table probe_notes (id text primary key); create table probe_seen (id text primary key);",
  );
  return {
    name: "probe",
    migrations: new URL(`file://${folder}/`),
    topics: [{ name: "probe-events", partitions: 2 }],
    build(platform) {
      const writes = sqlUnitOfWork(platform.db, (tx: SqlClient) => ({
        sql: tx,
        outbox: new PostgresOutboxWriter(tx, platform.outbox),
      }));
      const routes = new Hono();
      routes.post("/notes/:id", async (c) => {
        const id = c.req.param("id");
        await writes.inTransaction(async (tx) => {
          await tx.sql.query("insert into probe_notes (id) values ($1)", [id]);
          const note = { eventType: "NoteAdded", aggregateType: "note", aggregateId: id, payload: { id } };
          const other = { ...note, eventType: "NoteArchived" };
          await tx.outbox.append(platform.topic("probe-events"), [
            createEnvelope(note),
            createEnvelope(other),
          ]);
        });
        return c.json({ id });
      });
      return {
        routes: [{ path: "/probe", app: routes }],
        consumers: [consumerGroup({
          name: "probe-group",
          topics: ["probe-events"],
          handlers: {
            NoteAdded: async (events, tx) => {
              for (const event of events) {
                await tx.sql.query("insert into probe_seen (id) values ($1)", [event.aggregateId]);
              }
            },
          },
          batched: false,
          inbox: true,
          unitOfWork: sqlUnitOfWork(
            platform.db,
            (tx: SqlClient) => ({ sql: tx, inbox: new PostgresInboxStore(tx) }),
          ),
        })],
        jobs: [{
          name: "tick",
          everyMs: 60_000,
          firstAfterMs: 0,
          run: () => Promise.resolve(void jobRuns.count++),
        }],
        onStart: [() => Promise.resolve("probe warmed")],
        checks: { notes: () => platform.db.query("select 1 from probe_notes limit 1") },
      };
    },
  };
}

Deno.test("a new context runs through the platform with nothing but its module added to the list", async () => {
  // given the registered modules plus the probe context, on PostgreSQL with the in-process transport
  await using db = await testDatabase();
  const jobRuns = { count: 0 };
  const probe = await probeModule(jobRuns);
  const all = [...modules, probe];
  const config = testConfig(db, `t${uniqueId()}`);
  const metrics = new Metrics({ process: "test" });
  const applied = await migrate(db, migrationScopes(all));
  assert.deepEqual(applied, ["probe/0001_notes"], "only the new context's migration is new");
  const transport = new InProcessTransport(db, { logger: testLogger, pollIntervalMs: 50 });
  await ensureTopics(transport, all, { config, logger: testLogger });
  const built = buildModules(all, { db, config, logger: testLogger, metrics });
  const { relay, source } = await startRelayLoops({
    db,
    publisher: transport,
    config,
    logger: testLogger,
    observer: metrics.relayObserver(),
    maxConcurrency: 2,
  });
  const consumers = await startConsumerGroups(built, { transport, config, logger: testLogger, metrics });
  const jobs = startJobs(jobsOf(built), { lock: new MemoryLock(), logger: testLogger });
  try {
    // then its start-up hook, check, subscriptions and job are the platform's
    assert.ok((await runStartHooks(built, testLogger)).includes("probe warmed"));
    assert.ok("probe.notes" in checksOf(built));
    assert.ok(
      subscriptionsOf(built, config).some((s) =>
        s.group === `${config.NAME_PREFIX}.probe-group` && s.topic === `${config.NAME_PREFIX}.probe-events`
      ),
    );
    await eventually(() => Promise.resolve(jobRuns.count), (n) => n >= 1, { what: "the probe job to run" });

    // when its route is called
    const app = createApp({ routes: routesOf(built), logger: testLogger, metrics });
    const response = await app.request("/probe/notes/n1", { method: "POST" });
    assert.equal(response.status, 200);

    // then its event reaches its group through the outbox and the relay, once
    await eventually(
      () => db.query<{ id: string }>("select id from probe_seen"),
      (rows) => rows.length === 1 && rows[0].id === "n1",
      { what: "the probe group to see n1" },
    );
    // and the event type it has no handler for is skipped and counted, not dead-lettered
    const group = `${config.NAME_PREFIX}.probe-group`;
    const text = await eventually(
      () => metrics.text().then((m) => m.body),
      (t) => metricValue(t, "consumer_events_skipped_total", { group, event_type: "NoteArchived" }) === 1,
      { what: "the skipped NoteArchived counted" },
    );
    assert.equal(metricValue(text, "consumer_events_dead_lettered_total", { group }), 0);
    const inbox = await db.query<{ n: number }>("select count(*)::int as n from inbox where consumer = $1", [
      group,
    ]);
    assert.equal(inbox[0].n, 1, "only the handled event is recorded in the inbox");
  } finally {
    jobs.stop();
    for (const consumer of consumers) await consumer.stop();
    await relay.stop();
    await source.close();
    await transport.close();
    await Deno.remove(new URL(probe.migrations!), { recursive: true });
  }
});
