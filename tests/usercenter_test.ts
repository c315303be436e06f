/**
 * The user center on real servers: PostgreSQL, Redis, Kafka, and a real SMTP receiver. Accounts are created
 * through the API (argon2id hashing, signed tokens), events travel outbox → relay → Kafka → `usercenter`
 * group, and mail leaves through the dispatcher to the receiver.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { SignJWT } from "jose";
import { KafkajsTransport } from "../adapters/kafka/kafkajs.ts";
import { MemoryLock } from "../adapters/memory/lock.ts";
import { jobsOf, startJobs } from "../bin/runtime.ts";
import { env, eventually, readTopic, testDatabase, testLogger, testTopics } from "./helpers.ts";
import { likeConsumerFor, likesApi, relayFor, testModules } from "./fixtures.ts";
import { smtpReceiver } from "./smtp_receiver.ts";
import { testJwtSecret } from "./users.ts";

const json = { "content-type": "application/json" };
const password = "correct horse battery";

/** The API, relay, every consumer group and the mail dispatcher over one test's schema, topics and Redis. */
async function stack(settings: Record<string, string> = {}) {
  const db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  const receiver = await smtpReceiver();
  const all = { SMTP_URL: receiver.url, MAIL_POLL_MS: "100", ...settings };
  const api = likesApi(db, topic, all);
  const relay = await relayFor(db);
  const consumers = await likeConsumerFor(db, topic, api.redisHandle, { settings: all });
  const { built } = testModules(db, topic, api.redisHandle.prefixed, all);
  const jobs = startJobs(jobsOf(built), { lock: new MemoryLock(), logger: testLogger });
  const prefix = topic.slice(0, topic.indexOf("."));
  const call = (path: string, init: RequestInit = {}) => api.app.request(path, init);
  return {
    db,
    api,
    receiver,
    prefix,
    call,
    async register(username: string, email: string, pass = password) {
      const response = await call("/users/register", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ username, email, password: pass }),
      });
      return { status: response.status, body: await response.json() };
    },
    async login(email: string, pass = password, headers: Record<string, string> = {}) {
      const response = await call("/users/login", {
        method: "POST",
        headers: { ...json, ...headers },
        body: JSON.stringify({ email, password: pass }),
      });
      return { status: response.status, headers: response.headers, body: await response.json() };
    },
    async [Symbol.asyncDispose]() {
      jobs.stop();
      await consumers[Symbol.asyncDispose]();
      await relay[Symbol.asyncDispose]();
      await api[Symbol.asyncDispose]();
      await receiver[Symbol.asyncDispose]();
      await db[Symbol.asyncDispose]();
    },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("register → login → like with the token: the like is that user's; without a token it is 401", async () => {
  await using s = await stack();

  // given a registered user
  const registered = await s.register("ada", "Ada@Example.com");
  assert.equal(registered.status, 201);
  assert.deepEqual(Object.keys(registered.body).sort(), ["email", "id", "username"]);
  assert.equal(registered.body.email, "ada@example.com", "addresses are stored in lower case");

  // when they sign in and like video 42 with the token
  const login = await s.login("ada@example.com");
  assert.equal(login.status, 200);
  assert.equal(login.body.tokenType, "Bearer");
  assert.equal(login.body.expiresIn, 3600);
  const liked = await s.call("/videos/42/likes", { method: "POST", headers: bearer(login.body.accessToken) });
  assert.equal(liked.status, 200);

  // then the like row belongs to the registered user, and /users/me is theirs
  const rows = await s.db.query<{ user_id: string }>("select user_id::text from likes where target_id = 42");
  assert.deepEqual(rows.map((r) => r.user_id), [registered.body.id]);
  const me = await (await s.call("/users/me", { headers: bearer(login.body.accessToken) })).json();
  assert.equal(me.id, registered.body.id);
  assert.equal(me.username, "ada");

  // and the same like without a token, or with a chosen X-User-Id, is refused and changes nothing
  for (const headers of [{}, { "x-user-id": String(registered.body.id) }] as Record<string, string>[]) {
    const anonymous = await s.call("/videos/43/likes", { method: "POST", headers });
    assert.equal(anonymous.status, 401);
    assert.equal((await anonymous.json()).type, "urn:problem:unauthenticated");
    assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="api"');
  }
  assert.equal((await s.db.query("select 1 from likes where target_id = 43")).length, 0);

  // and the sign-in reached the usercenter group: last-login time and the login log
  await eventually(
    async () => (await s.db.query<{ at: string | null }>("select last_login_at as at from users"))[0]?.at,
    (at) => at !== null && at !== undefined,
    { what: "last_login_at set by the user.logged_in handler" },
  );
});

Deno.test("one address registered twice at once: one account, one user.registered, one welcome mail despite a redelivery", async () => {
  await using s = await stack();

  // when two registrations of one address race
  const [a, b] = await Promise.all([
    s.register("first", "same@example.com"),
    s.register("second", "same@example.com"),
  ]);

  // then one wins, the other gets a 409 problem
  assert.deepEqual([a.status, b.status].sort(), [201, 409]);
  const loser = a.status === 409 ? a.body : b.body;
  assert.equal(loser.type, "urn:problem:email-taken");
  const users = await s.db.query<{ id: string }>("select id::text from users");
  assert.equal(users.length, 1);

  // and exactly one user.registered event reached the topic
  const topic = `${s.prefix}.user.events`;
  const registered = await readTopic(topic, (m) => m.some((x) => x.value?.includes("user.registered")));
  const events = registered.filter((m) => JSON.parse(m.value!).eventType === "user.registered");
  assert.equal(events.length, 1);
  assert.equal(events[0].key, users[0].id, "keyed by user id");
  assert.doesNotMatch(events[0].value!, /argon2|correct horse|passwordHash|password_hash/);

  // when that event is delivered again (published a second time), followed by a sign-in of the same account
  const transport = new KafkajsTransport({ brokers: env.brokers });
  await transport.publish([{
    topic,
    key: events[0].key!,
    value: events[0].value!,
    headers: Object.fromEntries(Object.entries(events[0].headers)),
  }]);
  await transport.close();
  assert.equal((await s.login("same@example.com")).status, 200);

  // then once the later sign-in is handled (same key, same partition: the duplicate came first)...
  await eventually(
    async () => (await s.db.query("select 1 from login_log")).length,
    (n) => n === 1,
    { what: "the sign-in in the login log" },
  );
  // ...one welcome mail is queued, one arrives, and one settings row exists
  const queued = await s.db.query<{ kind: string }>("select kind from mail_queue where kind = 'welcome'");
  assert.equal(queued.length, 1);
  const welcome = await s.receiver.waitFor((m) => m.subject.startsWith("Welcome"));
  assert.deepEqual(welcome.to, ["same@example.com"]);
  await eventually(
    async () => (await s.db.query("select sent_at from mail_queue where sent_at is not null")).length,
    (n) => n === 1,
    { what: "mail marked sent" },
  );
  assert.equal(s.receiver.messages.filter((m) => m.subject.startsWith("Welcome")).length, 1);
  assert.equal((await s.db.query("select 1 from user_settings")).length, 1);
});

Deno.test("a wrong password and an unknown address get the same 401; N failures → 429; the burst is recorded", async () => {
  await using s = await stack({ LOGIN_MAX_FAILURES: "3", ANOMALY_BURST_FAILURES: "3" });
  const { body: user } = await s.register("grace", "grace@example.com");

  // when one attempt uses a wrong password and one an unknown address
  const wrong = await s.login("grace@example.com", "not the password at all");
  const unknown = await s.login("nobody@example.com", "not the password at all");

  // then both answer the same status and body
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.deepEqual(wrong.body, unknown.body);
  assert.equal(wrong.body.type, "urn:problem:invalid-credentials");

  // when the account fails twice more, the next attempt — even with the right password — is throttled
  await s.login("grace@example.com", "still not the password");
  await s.login("grace@example.com", "still not the password");
  const throttled = await s.login("grace@example.com");
  assert.equal(throttled.status, 429);
  assert.equal(throttled.body.type, "urn:problem:login-throttled");
  assert.ok(Number(throttled.headers.get("retry-after")) > 0, "Retry-After in seconds");

  // and the usercenter group recorded the burst of failures for that account
  const anomalies = await eventually(
    () => s.db.query<{ kind: string; user_id: string }>("select kind, user_id::text from login_anomalies"),
    (rows) => rows.some((r) => r.kind === "failure-burst"),
    { what: "a failure-burst anomaly" },
  );
  assert.equal(anomalies.find((r) => r.kind === "failure-burst")?.user_id, user.id);
  const failures = await s.db.query("select 1 from login_log where not succeeded");
  assert.equal(failures.length, 3, "one log row per failed attempt of the account");
});

Deno.test("tokens that do not hold get 401: other secret, tampered, alg none, expired, suspended or deleted user", async () => {
  await using s = await stack();
  const { body: user } = await s.register("lin", "lin@example.com");
  const { body: admin } = await s.register("root", "root@example.com");
  await s.db.query("update users set role = 'admin' where id = $1", [admin.id]);
  const token = (await s.login("lin@example.com")).body.accessToken as string;
  const adminToken = (await s.login("root@example.com")).body.accessToken as string;
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const sign = (secret: string, changes: Record<string, unknown> = {}) =>
    new SignJWT({ ...claims, ...changes }).setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(secret));
  const status = async (t: string) =>
    (await s.call("/videos/1/likes", { method: "POST", headers: bearer(t) })).status;

  // the genuine token works
  assert.equal(await status(token), 200);
  // signed with another secret
  assert.equal(await status(await sign("another-secret-of-at-least-32-characters!!")), 401);
  // payload changed (another user), signature kept
  assert.equal(await status(`${header}.${encode({ ...claims, sub: admin.id })}.${signature}`), 401);
  // role raised in the payload, signature kept
  assert.equal(await status(`${header}.${encode({ ...claims, role: "admin" })}.${signature}`), 401);
  // alg none, no signature
  assert.equal(await status(`${encode({ alg: "none", typ: "JWT" })}.${payload}.`), 401);
  // expired (right secret)
  const past = Math.floor(Date.now() / 1000) - 7200;
  assert.equal(await status(await sign(testJwtSecret, { iat: past, exp: past + 60 })), 401);
  // garbage
  assert.equal(await status("not-a-token"), 401);
  // a stale token left in the header does not stop a sign-in (public routes ignore credentials)
  assert.equal((await s.login("lin@example.com", password, bearer("not-a-token"))).status, 200);

  // a normal user cannot suspend anyone (403); the admin can, and the token stops working at once
  const suspend = (t: string, id: string) =>
    s.call(`/users/${id}/status`, {
      method: "PATCH",
      headers: { ...json, ...bearer(t) },
      body: JSON.stringify({ status: "suspended" }),
    });
  assert.equal((await suspend(token, admin.id)).status, 403);
  const suspended = await suspend(adminToken, user.id);
  assert.equal(suspended.status, 200);
  assert.equal((await suspended.json()).status, "suspended");
  assert.equal(await status(token), 401);
  assert.equal((await s.login("lin@example.com")).status, 403, "a suspended account cannot sign in");

  // reactivated: a new sign-in works (the old token stays revoked: its version is behind)
  const reactivate = await s.call(`/users/${user.id}/status`, {
    method: "PATCH",
    headers: { ...json, ...bearer(adminToken) },
    body: JSON.stringify({ status: "active" }),
  });
  assert.equal(reactivate.status, 200);
  assert.equal(await status(token), 401);
  const fresh = (await s.login("lin@example.com")).body.accessToken as string;
  assert.equal(await status(fresh), 200);

  // an administrator cannot change their own status
  const own = await s.call(`/users/${admin.id}/status`, {
    method: "PATCH",
    headers: { ...json, ...bearer(adminToken) },
    body: JSON.stringify({ status: "suspended" }),
  });
  assert.equal(own.status, 409);
});

Deno.test("a password change mails a security notice; the old password and the old token stop working", async () => {
  await using s = await stack();
  await s.register("mei", "mei@example.com");
  const token = (await s.login("mei@example.com")).body.accessToken as string;

  // a wrong current password is refused and changes nothing
  const refused = await s.call("/users/me/password", {
    method: "POST",
    headers: { ...json, ...bearer(token) },
    body: JSON.stringify({ currentPassword: "wrong wrong wrong", newPassword: "a brand new passphrase" }),
  });
  assert.equal(refused.status, 400);
  assert.equal((await refused.json()).errors[0].field, "currentPassword");

  // when the password is changed
  const changed = await s.call("/users/me/password", {
    method: "POST",
    headers: { ...json, ...bearer(token) },
    body: JSON.stringify({ currentPassword: password, newPassword: "a brand new passphrase" }),
  });
  assert.equal(changed.status, 200);
  const newToken = (await changed.json()).accessToken as string;

  // then the notice arrives at the SMTP server
  const notice = await s.receiver.waitFor((m) => m.subject.includes("password was changed"), 20_000);
  assert.deepEqual(notice.to, ["mei@example.com"]);
  assert.match(notice.text, /password of your account was changed/);

  // and the old password fails, the new one works; the old token is revoked, the new one works
  assert.equal((await s.login("mei@example.com")).status, 401);
  assert.equal((await s.login("mei@example.com", "a brand new passphrase")).status, 200);
  assert.equal((await s.call("/users/me", { headers: bearer(token) })).status, 401);
  assert.equal((await s.call("/users/me", { headers: bearer(newToken) })).status, 200);
});

Deno.test("deleting the account: sign-in fails, the token is revoked, its likes leave the counts, personal data is erased", async () => {
  await using s = await stack();
  const { body: user } = await s.register("noor", "noor@example.com");
  await s.register("other", "other@example.com");
  const token = (await s.login("noor@example.com")).body.accessToken as string;
  const other = (await s.login("other@example.com")).body.accessToken as string;
  for (const video of [1, 2]) {
    assert.equal(
      (await s.call(`/videos/${video}/likes`, { method: "POST", headers: bearer(token) })).status,
      200,
    );
  }
  assert.equal((await s.call("/videos/1/likes", { method: "POST", headers: bearer(other) })).status, 200);
  const count = async (video: number) =>
    (await s.db.query<{ count: string }>(
      "select count::text from like_counts where target_type = 'video' and target_id = $1",
      [video],
    ))[0]?.count;
  await eventually(() => count(1), (c) => c === "2", { what: "video 1 counted twice" });

  // when the account is deleted
  const deleted = await s.call("/users/me", { method: "DELETE", headers: bearer(token) });
  assert.equal(deleted.status, 204);

  // then sign-in fails like an unknown address, and the token no longer works
  const login = await s.login("noor@example.com");
  assert.equal(login.status, 401);
  assert.equal(login.body.type, "urn:problem:invalid-credentials");
  assert.equal((await s.call("/users/me", { headers: bearer(token) })).status, 401);

  // and once the handlers ran, its likes are gone from the rows and the counts (the other user's stays)
  await eventually(() => count(1), (c) => c === "1", { what: "video 1 back to 1" });
  await eventually(() => count(2), (c) => c === "0", { what: "video 2 back to 0" });
  const status = await (await s.call("/videos/1/likes", { headers: bearer(other) })).json();
  assert.deepEqual(status, { count: 1, liked: true });

  // and the account's personal data is erased, the confirmation mail sent to the old address
  const [row] = await eventually(
    () =>
      s.db.query<{ email: string; username: string; password_hash: string }>(
        "select email, username, password_hash from users where id = $1",
        [user.id],
      ),
    (rows) => rows[0]?.email === `~deleted~${user.id}`,
    { what: "the account anonymised" },
  );
  assert.equal(row.password_hash, "!");
  assert.equal(row.username, `~deleted~${user.id}`);
  const goodbye = await s.receiver.waitFor((m) => m.subject.includes("was deleted"), 20_000);
  assert.deepEqual(goodbye.to, ["noor@example.com"]);
  // the mail kept of the account is the confirmation alone, its address erased once sent
  const kept = await eventually(
    () =>
      s.db.query<{ kind: string; to_address: string }>(
        "select kind, to_address from mail_queue where user_id = $1",
        [user.id],
      ),
    (rows) => rows.length === 1 && rows[0].to_address === "~erased~",
    { what: "only the erased confirmation left" },
  );
  assert.equal(kept[0].kind, "account-deleted");
  // and a name like the placeholder cannot be taken beforehand
  const squat = await s.register(`~deleted~${Number(user.id) + 1}`, "squat@example.com");
  assert.equal(squat.status, 400);
  assert.equal((await s.db.query("select 1 from login_log where user_id = $1", [user.id])).length, 0);
});

Deno.test("bad input gets a 400 problem naming the field and changes nothing", async () => {
  await using s = await stack();
  const cases: [Record<string, unknown> | string, string][] = [
    [{ username: "ok_name", email: "not-an-address", password }, "email"],
    [{ username: "ok_name", email: "a..b@example.com", password }, "email"],
    [{ username: "x", email: "x@example.com", password }, "username"],
    [{ username: "bad name!", email: "x@example.com", password }, "username"],
    [{ username: "ok_name", email: "x@example.com", password: "short" }, "password"],
    [{ username: "ok_name", email: "x@example.com", password: "password1234" }, "password"],
    [{ username: "ok_name", email: "x@example.com", password: "my ok_name is long" }, "password"],
    [{ username: "ok_name", email: "x@example.com", password, role: "admin" }, ""],
    [{ username: "ok_name", email: "x@example.com" }, "password"],
    ["{not json", ""],
  ];
  for (const [body, field] of cases) {
    const response = await s.call("/users/register", {
      method: "POST",
      headers: json,
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(response.headers.get("content-type"), "application/problem+json");
    const problem = await response.json();
    assert.equal(problem.status, 400);
    if (field) {
      const fields = (problem.errors as { field?: string; path?: string }[]).map((e) => e.field ?? e.path);
      assert.ok(fields.includes(field), `${JSON.stringify(body)} → ${JSON.stringify(problem)}`);
    }
  }
  assert.equal((await s.db.query("select 1 from users")).length, 0);
  assert.equal((await s.db.query("select 1 from outbox")).length, 0);
});

Deno.test("the profile: PATCH /users/me changes the fields given; a taken username is 409; user.updated is published", async () => {
  await using s = await stack();
  await s.register("taken", "taken@example.com");
  const { body: user } = await s.register("ivy", "ivy@example.com");
  const token = (await s.login("ivy@example.com")).body.accessToken as string;
  const patch = (body: unknown) =>
    s.call("/users/me", {
      method: "PATCH",
      headers: { ...json, ...bearer(token) },
      body: JSON.stringify(body),
    });

  const updated = await patch({ displayName: "Ivy L.", bio: "likes videos" });
  assert.equal(updated.status, 200);
  const me = await updated.json();
  assert.equal(me.displayName, "Ivy L.");
  assert.equal(me.bio, "likes videos");
  assert.equal(me.username, "ivy");
  assert.equal(me.email, "ivy@example.com");

  // a field not sent keeps its value
  const renamed = await (await patch({ username: "ivy2" })).json();
  assert.equal(renamed.username, "ivy2");
  assert.equal(renamed.displayName, "Ivy L.");
  assert.equal(renamed.bio, "likes videos");
  const cleared = await (await patch({ bio: null })).json();
  assert.equal(cleared.bio, null, "null clears a field");
  assert.equal(cleared.displayName, "Ivy L.");

  const taken = await patch({ username: "TAKEN" });
  assert.equal(taken.status, 409);
  assert.equal((await taken.json()).type, "urn:problem:username-taken");
  assert.equal((await patch({})).status, 400);
  assert.equal((await patch({ email: "new@example.com" })).status, 400, "the address is not a profile field");

  // the change reached the analytics topic for external mirrors: fields named, no values, no address
  const analytics = await readTopic(
    `${s.prefix}.user.analytics`,
    (m) => m.filter((x) => x.value?.includes("profile-updated")).length >= 3,
  );
  const events = analytics.map((m) => JSON.parse(m.value!)).filter((e) =>
    e.payload.activity === "profile-updated"
  );
  assert.deepEqual(events.map((e) => e.payload.attributes.changed), ["displayName,bio", "username", "bio"]);
  assert.ok(events.every((e) => e.payload.userId === user.id));
  assert.doesNotMatch(JSON.stringify(analytics.map((m) => m.value)), /ivy@example\.com/);
});

Deno.test("without SMTP_URL mail waits in the queue and GET /users/me/mail shows it", async () => {
  await using s = await stack({ SMTP_URL: "" });
  await s.register("zoe", "zoe@example.com");
  const token = (await s.login("zoe@example.com")).body.accessToken as string;
  const mail = await eventually(
    async (): Promise<{ kind: string; to: string; sentAt: string | null }[]> =>
      (await (await s.call("/users/me/mail", { headers: bearer(token) })).json()).items,
    (items) => items.some((m) => m.kind === "welcome"),
    { what: "the welcome mail in /users/me/mail" },
  );
  const welcome = mail.find((m) => m.kind === "welcome")!;
  assert.equal(welcome.to, "zoe@example.com");
  assert.equal(welcome.sentAt, null);
  assert.equal(s.receiver.messages.length, 0, "nothing was sent");
  assert.equal((await s.call("/users/me/mail")).status, 401);
});

Deno.test("mail refused by the SMTP server stays queued and is sent once the server accepts it", async () => {
  await using s = await stack();
  // the server refuses the next two deliveries (451: try later)
  s.receiver.refuseNext(2, 451);
  await s.register("kai", "kai@example.com");

  // then the welcome mail arrives after the retries, exactly once
  const welcome = await s.receiver.waitFor((m) => m.subject.startsWith("Welcome"), 60_000);
  assert.deepEqual(welcome.to, ["kai@example.com"]);
  const [row] = await eventually(
    () =>
      s.db.query<{ attempts: number; sent: boolean }>(
        "select attempts, sent_at is not null as sent from mail_queue",
      ),
    (rows) => rows[0]?.sent === true,
    { what: "mail marked sent" },
  );
  assert.equal(row.attempts, 3, "two refusals, then the delivery");
  assert.equal(s.receiver.messages.filter((m) => m.subject.startsWith("Welcome")).length, 1);
});

Deno.test("password spraying from one address: failures across accounts spend the address's budget", async () => {
  await using s = await stack({ LOGIN_MAX_FAILURES: "10", LOGIN_MAX_FAILURES_PER_ADDRESS: "3" });
  for (const name of ["sam", "kim", "lee", "ana"]) await s.register(name, `${name}@example.com`);

  // when one client tries one common password on three accounts
  for (const name of ["sam", "kim", "lee"]) {
    assert.equal((await s.login(`${name}@example.com`, "Summer2026!!x")).status, 401);
  }

  // then its next attempt is throttled, whichever account, even with the right password
  const next = await s.login("ana@example.com");
  assert.equal(next.status, 429);
  assert.ok(Number(next.headers.get("retry-after")) > 0);
});

Deno.test("a burst of concurrent wrong guesses is throttled like sequential ones", async () => {
  await using s = await stack({ LOGIN_MAX_FAILURES: "3" });
  await s.register("rio", "rio@example.com");

  // when twelve wrong guesses arrive at once
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) => s.login("rio@example.com", `wrong guess number ${i}`)),
  );

  // then only the budget's worth were checked; the rest were refused before any hashing
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [...Array(3).fill(401), ...Array(9).fill(429)]);
});
