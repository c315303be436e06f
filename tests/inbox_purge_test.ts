/**
 * Inbox rows are purged after INBOX_RETENTION_HOURS: `purgeInbox` deletes the rows older than the retention as
 * of a clock the test sets (no sleeping), and a process purges soon after it starts, not an hour later.
 */
import assert from "node:assert/strict";
import { MemoryLock } from "../adapters/memory/lock.ts";
import { purgeInbox } from "../adapters/postgres/outbox_store.ts";
import type { SqlClient } from "../adapters/postgres/sql_client.ts";
import { loadConfig } from "../bin/config.ts";
import { platformJobs, startJobs } from "../bin/runtime.ts";
import { openEmbedded, openPostgres } from "./contracts/adapters.ts";
import { eventually, testDatabase, testLogger } from "./helpers.ts";

const hour = 3_600_000;

/** Inserts one inbox row per name, processed `ageMs` before `asOf`; returns the row ids by name. */
async function insertInbox(db: SqlClient, asOf: Date, ages: Record<string, number>) {
  const ids: Record<string, string> = {};
  for (const [name, ageMs] of Object.entries(ages)) {
    ids[name] = crypto.randomUUID();
    await db.query("insert into inbox (consumer, event_id, processed_at) values ('test-group', $1, $2)", [
      ids[name],
      new Date(asOf.getTime() - ageMs).toISOString(),
    ]);
  }
  return ids;
}

/** The names whose inbox rows are still there. */
async function kept(db: SqlClient, ids: Record<string, string>): Promise<string[]> {
  const rows = await db.query<{ id: string }>("select event_id::text as id from inbox");
  const present = new Set(rows.map((row) => row.id));
  return Object.keys(ids).filter((name) => present.has(ids[name])).sort();
}

/** The database's clock (what stamps processed_at). */
async function databaseNow(db: SqlClient): Promise<Date> {
  const [row] = await db.query<{ ms: number }>("select (extract(epoch from now()) * 1000)::float8 as ms");
  return new Date(row.ms);
}

for (const [name, open] of [["PostgreSQL", openPostgres], ["PGlite", openEmbedded]] as const) {
  Deno.test(`${name}: purgeInbox deletes the rows older than the retention as of the clock it is given`, async () => {
    // given inbox rows processed 200 h, 100 h and 1 h ago, and a retention of 168 h
    await using db = await open();
    const t0 = await databaseNow(db);
    const ids = await insertInbox(db, t0, { old: 200 * hour, middle: 100 * hour, recent: hour });
    const retention = 168 * hour;

    // when purged now (the database's clock), then only the row past the retention goes
    assert.equal(await purgeInbox(db, retention), 1);
    assert.deepEqual(await kept(db, ids), ["middle", "recent"]);

    // when purged as of the moment the middle row is exactly 168 h old, then it stays (not older yet)
    assert.equal(await purgeInbox(db, retention, { now: new Date(t0.getTime() + 68 * hour) }), 0);
    assert.deepEqual(await kept(db, ids), ["middle", "recent"]);

    // when purged as of 70 h later, then the middle row (170 h old by then) goes and the recent one (71 h) stays
    assert.equal(await purgeInbox(db, retention, { now: new Date(t0.getTime() + 70 * hour) }), 1);
    assert.deepEqual(await kept(db, ids), ["recent"]);

    // when purged as of a week and a day later with a one-hour retention, then nothing is left
    assert.equal(await purgeInbox(db, hour, { now: new Date(t0.getTime() + 192 * hour) }), 1);
    assert.deepEqual(await kept(db, ids), []);
  });
}

Deno.test("the platform's inbox purge job runs soon after start with the default settings, not an hour later", async () => {
  // given an inbox row processed 30 days ago (past the default retention) and one processed now
  await using db = await testDatabase();
  const config = loadConfig({ DATABASE_SCHEMA: db.schema });
  assert.ok(30 * 24 > config.INBOX_RETENTION_HOURS, "30 days is past the default INBOX_RETENTION_HOURS");
  const ids = await insertInbox(db, await databaseNow(db), { old: 30 * 24 * hour, fresh: 0 });

  // when the platform's jobs start, as a worker starts them
  const jobs = startJobs(platformJobs(db, config), { lock: new MemoryLock(), logger: testLogger });
  try {
    // then the old row is gone within 30 s, and the fresh one stays
    await eventually(() => kept(db, ids), (names) => !names.includes("old"), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "the inbox row of 30 days ago to be purged",
    });
    assert.deepEqual(await kept(db, ids), ["fresh"]);
  } finally {
    jobs.stop();
  }
});
