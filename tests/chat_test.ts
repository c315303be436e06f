/**
 * Chat on real servers: a send only commits its outbox event (202), the relay publishes it to Kafka, and the
 * storage-consumer-group stores it in MongoDB; history and conversation lists read it back.
 */
import assert from "node:assert/strict";
import { env, eventually, readTopic, testDatabase, testTopics } from "./helpers.ts";
import { likeConsumerFor, likesApi, namePrefixOf, relayFor } from "./fixtures.ts";
import { signedIn } from "./users.ts";

const json = { "content-type": "application/json" };

async function chatStack() {
  const db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  const prefix = namePrefixOf(topic);
  const settings = { MONGO_URL: env.mongoUrl, MONGO_DATABASE: `chat_${db.schema}` };
  const api = likesApi(db, topic, settings);
  const relay = await relayFor(db);
  const consumers = await likeConsumerFor(db, topic, api.redisHandle, { settings });
  const users = await signedIn(db, [1, 2, 3]);
  const as = (id: number) => users.get(String(id))!;
  const adminHeaders = async () => (await signedIn(db, [900], { role: "admin" })).get("900")!;
  return {
    db,
    prefix,
    as,
    adminHeaders,
    send: async (from: number, body: Record<string, unknown>) => {
      const response = await api.app.request("/chat/messages", {
        method: "POST",
        headers: { ...json, ...as(from) },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    },
    get: async (user: number, path: string) => {
      const response = await api.app.request(path, { headers: as(user) });
      return { status: response.status, body: await response.json() };
    },
    request: (path: string, init: RequestInit = {}) => api.app.request(path, init),
    post: (user: number, path: string, body: unknown) =>
      api.app.request(path, {
        method: "POST",
        headers: { ...json, ...as(user) },
        body: JSON.stringify(body),
      }),
    async [Symbol.asyncDispose]() {
      await consumers[Symbol.asyncDispose]();
      await relay[Symbol.asyncDispose]();
      await api[Symbol.asyncDispose]();
      await db[Symbol.asyncDispose]();
    },
  };
}

Deno.test("a message is accepted at once, published once, stored in MongoDB once, and read back by both users", async () => {
  await using s = await chatStack();

  // when user 1 writes to user 2, and the client retries the same send
  const first = await s.send(1, { to: 2, content: "hello 👋", clientMessageId: "c-1" });
  const retry = await s.send(1, { to: "2", content: "hello 👋", clientMessageId: "c-1" });

  // then both answers name the same message, and one event carries it on message-events
  assert.equal(first.status, 202);
  assert.equal(retry.status, 202);
  assert.equal(retry.body.messageId, first.body.messageId);
  assert.equal(retry.body.duplicate, true);
  assert.equal(first.body.conversationId, "dm:1:2");
  const events = await readTopic(`${s.prefix}.message-events`, (m) => m.length >= 1, { timeoutMs: 10_000 });
  assert.equal(events.length, 1);
  assert.equal(events[0].key, "dm:1:2", "keyed by conversation");

  // and once stored, both users read it in the conversation's history, once
  const history = await eventually(
    () => s.get(2, "/chat/conversations/dm:1:2/messages"),
    (page) => page.body.items?.length === 1,
    { what: "the message in history" },
  );
  assert.equal(history.body.items[0].content, "hello 👋");
  assert.equal(history.body.items[0].senderId, "1");
  assert.equal((await s.get(1, "/chat/conversations/dm:1:2/messages")).body.items.length, 1);

  // and user 2's conversation list shows it unread until marked read
  const list = await s.get(2, "/chat/conversations");
  assert.equal(list.body.items.length, 1);
  assert.equal(list.body.items[0].unread, 1);
  const read = await s.post(2, "/chat/conversations/dm:1:2/read", { upTo: history.body.items[0].cursor });
  assert.equal(read.status, 204);
  assert.equal((await s.get(2, "/chat/conversations")).body.items[0].unread, 0);
  assert.equal(
    (await s.get(1, "/chat/conversations")).body.items[0].unread,
    0,
    "your own message is not unread",
  );
});

Deno.test("history pages newest first with a cursor, without gaps or repeats", async () => {
  await using s = await chatStack();
  for (let i = 0; i < 7; i++) {
    assert.equal(
      (await s.send(i % 2 ? 1 : 2, { to: i % 2 ? 2 : 1, content: `m${i}`, clientMessageId: `p${i}` })).status,
      202,
    );
  }
  await eventually(
    () => s.get(1, "/chat/conversations/dm:1:2/messages?limit=100"),
    (page) => page.body.items?.length === 7,
    { what: "7 messages stored" },
  );
  const seen: string[] = [];
  let path = "/chat/conversations/dm:1:2/messages?limit=3";
  for (;;) {
    const page = await s.get(1, path);
    seen.push(...page.body.items.map((m: { content: string }) => m.content));
    if (!page.body.next) break;
    path = `/chat/conversations/dm:1:2/messages?limit=3&before=${page.body.next}`;
  }
  assert.deepEqual(seen, ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);
});

Deno.test("outsiders and bad input: 403 for another pair's conversation, 404 unknown recipient, 400 bad content, 401 anonymous", async () => {
  await using s = await chatStack();
  assert.equal((await s.send(1, { to: 2, content: "private", clientMessageId: "x-1" })).status, 202);

  // a third user cannot read the pair's history or mark it read
  assert.equal((await s.get(3, "/chat/conversations/dm:1:2/messages")).status, 403);
  assert.equal((await s.post(3, "/chat/conversations/dm:1:2/read", { upTo: "AAAA" })).status, 403);
  assert.equal((await s.get(1, "/chat/conversations/dm:2:1/messages")).status, 404, "not a conversation id");

  // bad sends are refused with the field named, and publish nothing
  const cases: [Record<string, unknown>, number, string][] = [
    [{ to: 99, content: "hi", clientMessageId: "x-2" }, 404, "to"],
    [{ to: 1, content: "to myself", clientMessageId: "x-3" }, 400, "to"],
    [{ to: 2, content: "   ", clientMessageId: "x-4" }, 400, "content"],
    [{ to: 2, content: "x".repeat(4001), clientMessageId: "x-5" }, 400, "content"],
    [{ to: 2, content: "hi", clientMessageId: "bad id with spaces" }, 400, "clientMessageId"],
    [{ to: 2, content: "hi" }, 400, "clientMessageId"],
  ];
  for (const [body, status, field] of cases) {
    const answer = await s.send(1, body);
    assert.equal(answer.status, status, JSON.stringify(body));
    assert.ok(
      answer.body.errors.some((e: { field: string }) => e.field === field),
      JSON.stringify(answer.body),
    );
  }
  const outbox = await s.db.query<{ n: number }>("select count(*)::int as n from chat_sends");
  assert.equal(outbox[0].n, 1, "only the first send was recorded");

  // and without a token, nothing is sent or read
  const anonymous = await s.request("/chat/messages", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ to: 2, content: "hi", clientMessageId: "x-6" }),
  });
  assert.equal(anonymous.status, 401);
  assert.equal((await s.request("/chat/conversations")).status, 401);
  assert.equal((await s.db.query("select 1 from chat_sends")).length, 1);
});

Deno.test("the audit group records who wrote when and how much, never the content; administrators read it", async () => {
  await using s = await chatStack();
  const admin = await s.adminHeaders();
  assert.equal((await s.send(1, { to: 2, content: "secret plans ✓", clientMessageId: "a-1" })).status, 202);
  assert.equal((await s.send(2, { to: 1, content: "ok", clientMessageId: "a-2" })).status, 202);

  const records = await eventually(
    async () => {
      const response = await s.request("/chat/audit?conversationId=dm:1:2", { headers: admin });
      return (await response.json()).items as Record<string, unknown>[];
    },
    (items) => items?.length === 2,
    { what: "two audit records" },
  );
  assert.deepEqual(records.map((r) => [r.senderId, r.contentBytes, r.recipients]), [["2", 2, 1], [
    "1",
    16,
    1,
  ]]);
  assert.doesNotMatch(JSON.stringify(records), /secret/);
  const bySender = await (await s.request("/chat/audit?senderId=1", { headers: admin })).json();
  assert.equal(bySender.items.length, 1);

  // users are not administrators
  assert.equal((await s.request("/chat/audit", { headers: s.as(1) })).status, 403);
  assert.equal((await s.request("/chat/audit")).status, 401);
});

Deno.test("groups: only members post and read; the owner adds members; a member leaves; others get 403", async () => {
  await using s = await chatStack();
  const created = await s.request("/chat/groups", {
    method: "POST",
    headers: { ...json, ...s.as(1) },
    body: JSON.stringify({ name: "friends", members: [2] }),
  });
  assert.equal(created.status, 201);
  const group = await created.json();
  assert.match(group.conversationId, /^g:/);
  assert.deepEqual(group.members, ["1", "2"]);
  const history = (user: number) => s.get(user, `/chat/conversations/${group.conversationId}/messages`);

  // a stranger can neither post nor read, and nothing is published for them
  const stranger = await s.send(3, {
    to: group.conversationId,
    content: "let me in",
    clientMessageId: "g-0",
  });
  assert.equal(stranger.status, 403);
  assert.equal((await history(3)).status, 403);

  // members post; the message is stored for the group
  assert.equal(
    (await s.send(2, { to: group.conversationId, content: "hi all", clientMessageId: "g-1" })).status,
    202,
  );
  await eventually(() => history(1), (page) => page.body.items?.length === 1, { what: "the group message" });

  // only the owner adds: 2 cannot add 3, 1 can
  const add = (by: number) =>
    s.request(`/chat/groups/${group.conversationId}/members`, {
      method: "POST",
      headers: { ...json, ...s.as(by) },
      body: JSON.stringify({ userId: 3 }),
    });
  assert.equal((await add(2)).status, 403);
  const added = await add(1);
  assert.equal(added.status, 200);
  assert.deepEqual((await added.json()).members.sort(), ["1", "2", "3"]);
  assert.equal((await history(3)).status, 200, "a new member reads the history");
  assert.equal(
    (await s.send(3, { to: group.conversationId, content: "thanks", clientMessageId: "g-2" })).status,
    202,
  );

  // a member removes themself; afterwards the group is closed to them
  const left = await s.request(`/chat/groups/${group.conversationId}/members/3`, {
    method: "DELETE",
    headers: s.as(3),
  });
  assert.equal(left.status, 200);
  assert.equal((await history(3)).status, 403);
  assert.equal(
    (await s.send(3, { to: group.conversationId, content: "still here?", clientMessageId: "g-3" })).status,
    403,
  );
  const list = await s.get(3, "/chat/conversations");
  assert.ok(
    !list.body.items.some((item: { conversationId: string }) => item.conversationId === group.conversationId),
    "a group left is gone from the list (its last message included)",
  );

  // and unknown groups or members are refused
  assert.equal(
    (await s.send(1, { to: "g:01a23418-4bd2-7276-a03c-ad2553e46d08", content: "x", clientMessageId: "g-4" }))
      .status,
    404,
  );
  const unknownMember = await s.request("/chat/groups", {
    method: "POST",
    headers: { ...json, ...s.as(1) },
    body: JSON.stringify({ name: "ghosts", members: [999] }),
  });
  assert.equal(unknownMember.status, 404);
  const sends = await s.db.query<{ n: number }>("select count(*)::int as n from chat_sends");
  assert.equal(sends[0].n, 2, "only the members' two sends were recorded");
});
