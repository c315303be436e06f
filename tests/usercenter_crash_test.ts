/**
 * A worker killed with SIGKILL while it handles account events and sends their mail: after a restart every
 * account has its welcome mail queued once and delivered, its default settings once, and nothing more than the
 * message in flight at the kill is sent twice (with the same Message-ID, so the receiver can tell).
 */
import assert from "node:assert/strict";
import { env, eventually, freePort, spawnProcess, testDatabase, testTopics } from "./helpers.ts";
import { likesApi, namePrefixOf, relayFor } from "./fixtures.ts";
import { smtpReceiver } from "./smtp_receiver.ts";

Deno.test("SIGKILL of the worker mid-stream: each account gets one welcome mail and one settings row", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  const prefix = namePrefixOf(topic);
  await using api = likesApi(db, topic);
  await using _relay = await relayFor(db);
  await using receiver = await smtpReceiver();
  const workerEnv = {
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: db.schema,
    NAME_PREFIX: prefix,
    KAFKA_BROKERS: env.brokers.join(","),
    REDIS_URL: env.redisUrl,
    METRICS_PORT: String(freePort()),
    SMTP_URL: receiver.url,
    MAIL_POLL_MS: "50",
    // the mail in flight at the kill is taken over after this
    MAIL_LEASE_SECONDS: "20",
  };
  const accounts = 30;
  const register = async (n: number) => {
    const response = await api.app.request("/users/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        username: `crash${n}`,
        email: `crash${n}@example.com`,
        password: "correct horse battery",
      }),
    });
    assert.equal(response.status, 201);
  };
  const welcomes = () => receiver.messages.filter((m) => m.subject.startsWith("Welcome"));

  // given a worker handling the first registrations
  const first = spawnProcess("worker", workerEnv);
  let registered = 0;
  const writer = (async () => {
    while (registered < accounts) await register(++registered);
  })();
  await eventually(() => Promise.resolve(welcomes().length), (n) => n >= 5, {
    what: "5 welcome mails",
    timeoutMs: 60_000,
  });

  // when it is killed outright mid-stream, and a new one starts once every account is registered
  const killed = await first.stop("SIGKILL");
  assert.equal(killed.signal, "SIGKILL");
  await writer;
  await using _second = {
    worker: spawnProcess("worker", workerEnv),
    async [Symbol.asyncDispose]() {
      await this.worker.stop();
    },
  };

  // then every account's welcome mail arrives
  const expected = new Set(Array.from({ length: accounts }, (_, i) => `crash${i + 1}@example.com`));
  await eventually(
    () => Promise.resolve([...new Set(welcomes().flatMap((m) => m.to))].sort()),
    (seen) => [...expected].every((address) => seen.includes(address)),
    { what: "a welcome mail for every account", timeoutMs: 90_000 },
  );

  // and each was queued once and marked sent once; settings exist once per account
  const queued = await eventually(
    () =>
      db.query<{ n: number; sent: number }>(
        "select count(*)::int as n, count(sent_at)::int as sent from mail_queue where kind = 'welcome'",
      ),
    (rows) => rows[0].sent === accounts,
    { what: "every welcome mail marked sent" },
  );
  assert.equal(queued[0].n, accounts);
  const [settings] = await db.query<{ n: number }>("select count(*)::int as n from user_settings");
  assert.equal(settings.n, accounts);

  // and a mail sent twice is the one in flight at the kill, with the same Message-ID both times
  const ids = welcomes().map((m) => m.messageId);
  assert.equal(new Set(ids).size, accounts, "one Message-ID per account");
  assert.ok(
    ids.length <= accounts + 1,
    `at most the in-flight mail twice, got ${ids.length} for ${accounts}`,
  );
});
