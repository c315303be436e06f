import assert from "node:assert/strict";
import { PostgresOutboxWriter } from "../adapters/postgres/outbox_store.ts";
import { migrate, platformMigrations } from "../adapters/postgres/migrate.ts";
import { connectPostgres } from "../adapters/postgres/postgres_js.ts";
import { expectSetting, SettingMismatchError } from "../adapters/postgres/platform_settings.ts";
import { loadConfig } from "../bin/config.ts";
import { modules } from "../bin/modules.ts";
import { migrationScopes, recordBucketCount } from "../bin/runtime.ts";
import { likeEnvelope } from "../application/interaction/like_event.ts";
import { likeConsumerFor, likesApi, relayFor } from "./fixtures.ts";
import { env, eventually, repoRoot, testTopics, uniqueId } from "./helpers.ts";
import { as } from "./users.ts";

/** A schema of its own, not migrated. */
async function emptySchema() {
  const schema = `t_${uniqueId()}`;
  const db = await connectPostgres(env.databaseUrl, { schema });
  return Object.assign(db, {
    schema,
    async [Symbol.asyncDispose]() {
      await db.exec(`drop schema if exists ${schema} cascade`).catch(() => {});
      await db.close();
    },
  });
}

/** What `deno task migrate` of the single-folder layout left: its three files and `schema_migrations(version)`. */
async function migrateAsBefore(db: { exec(sql: string): Promise<void> }) {
  const files = [
    "adapters/postgres/migrations/0001_outbox.sql",
    "adapters/postgres/interaction/migrations/0002_likes.sql",
    "adapters/postgres/migrations/0003_inprocess_transport.sql",
  ];
  await db.exec(
    "create table schema_migrations (version text primary key, applied_at timestamptz not null default now())",
  );
  for (const file of files) {
    await db.exec(await Deno.readTextFile(`${repoRoot}${file}`));
    const version = file.split("/").pop()!.replace(/\.sql$/, "");
    await db.exec(`insert into schema_migrations (version) values ('${version}')`);
  }
}

Deno.test("a database migrated by the single-folder layout upgrades in place, keeps its rows, and flows", async () => {
  // given a database migrated the old way, holding a projected count and an unpublished like of video 42
  await using db = await emptySchema();
  await migrateAsBefore(db);
  await db.exec("insert into like_counts (target_type, target_id, count) values ('video', 41, 5)");
  const [topic] = await testTopics(3, "interaction-events");
  // The like row and its event as the API of that time committed them (there were no accounts to sign in to).
  const target = { type: "video" as const, id: "42" };
  await db.transaction(async (sql) => {
    // the like row in that layout's SQL (today's store also checks tables that did not exist then)
    await sql.query("insert into likes (target_type, target_id, user_id) values ('video', 42, 7)");
    const tx = { outbox: new PostgresOutboxWriter(sql) };
    await tx.outbox.append(topic, [
      likeEnvelope({ type: "LikeAdded", userId: "7", target, action: 1, at: new Date() }),
    ]);
  });
  const before = await db.query<{ likes: number; outbox: number }>(
    "select (select count(*)::int from likes) as likes, (select count(*)::int from outbox) as outbox",
  );
  assert.deepEqual({ ...before[0] }, { likes: 1, outbox: 1 });

  // when today's migrate runs on it
  const applied = await migrate(db, migrationScopes(modules));
  await recordBucketCount(db, loadConfig({}));

  // then the old versions are kept under their scopes and only the new ones are applied
  assert.ok(!applied.some((v) => /0001_outbox|0002_likes|0003_inprocess/.test(v)), applied.join(", "));
  const versions = await db.query<{ scope: string; version: string }>(
    "select scope, version from schema_migrations order by scope, version",
  );
  const recorded = versions.map((v) => `${v.scope}/${v.version}`);
  for (
    const expected of ["platform/0001_outbox", "interaction/0002_likes", "platform/0003_inprocess_transport"]
  ) {
    assert.ok(recorded.includes(expected), `${expected} in ${recorded.join(", ")}`);
  }
  assert.deepEqual(
    [...applied].sort(),
    recorded.filter((v) => !/0001_outbox|0002_likes|0003_inprocess/.test(v)).sort(),
  );

  // and every row is still there
  const after = await db.query<{ likes: number; outbox: number; count41: string }>(
    `select (select count(*)::int from likes) as likes, (select count(*)::int from outbox) as outbox,
            (select count::text from like_counts where target_id = 41) as count41`,
  );
  assert.deepEqual({ ...after[0] }, { likes: 1, outbox: 1, count41: "5" });

  // and the row written before the upgrade flows through the relay to the projection
  await using api = likesApi(db, topic);
  await using _relay = await relayFor(db);
  await using _consumer = await likeConsumerFor(db, topic, api.redisHandle);
  const count42 = async () =>
    (await db.query<{ n: string }>("select count::text as n from like_counts where target_id = 42"))[0]?.n;
  await eventually(count42, (n) => n === "1", { what: "the pre-upgrade like projected" });

  // and today's API serves the upgraded database: a signed-in user's like is counted with it
  const liked = await api.app.request("/videos/42/likes", { method: "POST", headers: await as(db, 8) });
  assert.equal(liked.status, 200);
  await eventually(count42, (n) => n === "2", { what: "the like after the upgrade projected" });

  // and a second migrate applies nothing
  assert.deepEqual(await migrate(db, migrationScopes(modules)), []);
});

Deno.test("two scopes may use the same version name: each is applied and tracked apart", async () => {
  // given two contexts written on separate branches, each with a 0001_init.sql
  await using db = await emptySchema();
  const folders = await Promise.all(["a", "b"].map(async (name) => {
    const folder = await Deno.makeTempDir();
    await Deno.writeTextFile(`${folder}/0001_init.sql`, `create table ${name}_things (id int primary key);`);
    return { scope: name, folder: new URL(`file://${folder}/`) };
  }));

  // when both are migrated
  const applied = await migrate(db, folders);

  // then both tables exist and both versions are recorded under their own scope
  assert.ok(applied.includes("a/0001_init") && applied.includes("b/0001_init"), applied.join(", "));
  await db.query("select * from a_things");
  await db.query("select * from b_things");
  assert.equal(applied.filter((v) => v.startsWith(`${platformMigrations.scope}/`)).length > 0, true);
  for (const { folder } of folders) await Deno.remove(new URL(folder), { recursive: true });
});

Deno.test("the bucket count is recorded at the first migrate, and another count is refused naming both", async () => {
  // given a database migrated with OUTBOX_BUCKETS=64 (the default)
  await using db = await emptySchema();
  await migrate(db, migrationScopes(modules));
  await recordBucketCount(db, loadConfig({}));

  // when a process configured with 128 checks it, or a later migrate runs with 128
  const check = expectSetting(db, "OUTBOX_BUCKETS", "outbox bucket count", "128");
  const remigrate = recordBucketCount(db, loadConfig({ OUTBOX_BUCKETS: "128" }));

  // then both are refused, naming the variable and both values
  for (const attempt of [check, remigrate]) {
    await assert.rejects(attempt, (error: Error) => {
      assert.ok(error instanceof SettingMismatchError);
      assert.match(error.message, /OUTBOX_BUCKETS=128/);
      assert.match(error.message, /bucket count 64/);
      return true;
    });
  }
  await expectSetting(db, "OUTBOX_BUCKETS", "outbox bucket count", "64");
});
