/** Contract of the chat message store (MongoDB, PostgreSQL, PGlite): the same answers from each. */
import assert from "node:assert/strict";
import type { HistoryCursor, MessageStore, StoredMessage } from "../../application/chat/ports.ts";

/** A store under test and how to drop what it stored and close it. */
export type OpenMessageStore = () => Promise<{ store: MessageStore; close(): Promise<void> }>;

const start = Date.parse("2025-03-01T12:00:00.000Z");

/** A message from `senderId` in `conversationId`, `second`s after the start, with a fresh lowercase id. */
function message(
  conversationId: string,
  senderId: string,
  participants: readonly string[],
  second: number,
  content = `message at ${second}s`,
): StoredMessage {
  return {
    id: crypto.randomUUID(),
    conversationId,
    senderId,
    participants,
    content,
    sentAt: new Date(start + second * 1000),
  };
}

/** The messages newest first, ties broken by id (descending): the order history pages in. */
function newestFirst(messages: readonly StoredMessage[]): StoredMessage[] {
  return [...messages].sort((a, b) =>
    b.sentAt.getTime() - a.sentAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
  );
}

function cursorOf(message: StoredMessage): HistoryCursor {
  return { sentAt: message.sentAt, id: message.id };
}

const ids = (messages: readonly StoredMessage[]) => messages.map((m) => m.id);

/** Unread counts by conversation, as the user's list shows them. */
async function unreadBy(store: MessageStore, userId: string): Promise<Record<string, number>> {
  const list = await store.conversations(userId, 50);
  return Object.fromEntries(list.map((c) => [c.conversationId, c.unread]));
}

/** Registers the message-store contract for one adapter. */
export function messageStoreContract(name: string, open: OpenMessageStore) {
  /** Runs `body` on a fresh store and closes it, whatever happens. */
  function test(title: string, body: (store: MessageStore) => Promise<void>) {
    Deno.test(`${name}: ${title}`, async () => {
      const { store, close } = await open();
      try {
        await body(store);
      } finally {
        await close();
      }
    });
  }

  test("stored messages come back newest first, every field as stored", async (store) => {
    const dm = ["1", "2"];
    const sent = [
      message("dm:1:2", "1", dm, 1),
      message("dm:1:2", "2", dm, 3),
      message("dm:1:2", "1", dm, 2),
    ];
    assert.equal(await store.store(sent), 3);
    assert.deepEqual(await store.history("dm:1:2", { limit: 10 }), newestFirst(sent));
    assert.deepEqual(await store.history("dm:1:3", { limit: 10 }), [], "another conversation is empty");
    assert.equal(await store.store([]), 0);
  });

  test("storing the same messages again stores each once and counts only the new", async (store) => {
    const dm = ["1", "2"];
    const first = [
      message("dm:1:2", "1", dm, 1),
      message("dm:1:2", "2", dm, 2),
      message("dm:1:2", "1", dm, 3),
    ];
    assert.equal(await store.store(first), 3);
    assert.equal(await store.store(first), 0, "a redelivered batch is a no-op");

    // a batch mixing stored and new messages, one of the new ones twice
    const fresh = [message("dm:1:2", "2", dm, 4), message("dm:1:2", "1", dm, 5)];
    assert.equal(await store.store([first[1], fresh[0], first[2], fresh[1], fresh[0]]), 2);

    const history = await store.history("dm:1:2", { limit: 100 });
    assert.deepEqual(history, newestFirst([...first, ...fresh]), "each message once");
  });

  test("history pages with the cursor through 25 messages without gaps or repeats", async (store) => {
    const group = ["1", "2", "3"];
    // 25 messages over 9 distinct seconds: most share their sentAt with others, so ids break the ties
    const sent = Array.from({ length: 25 }, (_, i) => message("g:1", String((i % 3) + 1), group, i % 9));
    assert.equal(await store.store(sent), 25);
    const expected = newestFirst(sent);

    const pages: StoredMessage[][] = [];
    let before: HistoryCursor | undefined;
    for (;;) {
      const page = await store.history("g:1", { before, limit: 7 });
      if (page.length === 0) break;
      pages.push(page);
      before = cursorOf(page[page.length - 1]);
    }
    assert.deepEqual(pages.map((p) => p.length), [7, 7, 7, 4]);
    assert.deepEqual(ids(pages.flat()), ids(expected), "the pages, in order, are the whole history once");

    // a cursor between two messages of the same second starts at the next id down
    const tied = expected.findIndex((m, i) =>
      i > 0 && m.sentAt.getTime() === expected[i - 1].sentAt.getTime()
    );
    assert.ok(tied > 0, "the fixture has ties");
    const after = await store.history("g:1", { before: cursorOf(expected[tied - 1]), limit: 2 });
    assert.deepEqual(ids(after), ids(expected.slice(tied, tied + 2)));
  });

  test("history returns at most `limit` messages, the newest", async (store) => {
    const dm = ["1", "2"];
    const sent = Array.from({ length: 6 }, (_, i) => message("dm:1:2", "1", dm, i));
    await store.store(sent);
    assert.deepEqual(ids(await store.history("dm:1:2", { limit: 1 })), [sent[5].id]);
    assert.deepEqual(ids(await store.history("dm:1:2", { limit: 3 })), ids(newestFirst(sent).slice(0, 3)));
    assert.deepEqual(
      ids(await store.history("dm:1:2", { before: cursorOf(sent[1]), limit: 5 })),
      [sent[0].id],
      "fewer than the limit remain",
    );
  });

  test("conversations: the user's, most recent first, each with its last message and unread count", async (store) => {
    const dm12 = message("dm:1:2", "2", ["1", "2"], 10);
    const group = [
      message("g:team", "1", ["1", "2", "3"], 5),
      message("g:team", "3", ["1", "2", "3"], 6),
      message("g:team", "2", ["1", "2", "3"], 20),
      message("g:team", "1", ["1", "2", "3"], 21),
    ];
    const dm23 = message("dm:2:3", "3", ["2", "3"], 30);
    const earlier12 = message("dm:1:2", "1", ["1", "2"], 1);
    await store.store([dm12, ...group, dm23, earlier12]);

    const list = await store.conversations("1", 10);
    assert.deepEqual(list, [
      { conversationId: "g:team", lastMessage: group[3], unread: 2 }, // 3's and 2's; its own do not count
      { conversationId: "dm:1:2", lastMessage: dm12, unread: 1 },
    ]);
    assert.deepEqual(await unreadBy(store, "2"), { "dm:2:3": 1, "g:team": 3, "dm:1:2": 1 });
    assert.deepEqual(
      (await store.conversations("2", 10)).map((c) => c.conversationId),
      ["dm:2:3", "g:team", "dm:1:2"],
    );
    assert.deepEqual((await store.conversations("2", 2)).map((c) => c.conversationId), ["dm:2:3", "g:team"]);
    assert.deepEqual(await store.conversations("4", 10), [], "a user in no conversation sees none");
  });

  test("a user sees only the conversations they take part in", async (store) => {
    await store.store([
      message("dm:1:2", "1", ["1", "2"], 1),
      message("dm:3:4", "3", ["3", "4"], 2),
      message("g:x", "4", ["2", "4"], 3),
    ]);
    assert.deepEqual((await store.conversations("1", 10)).map((c) => c.conversationId), ["dm:1:2"]);
    assert.deepEqual((await store.conversations("3", 10)).map((c) => c.conversationId), ["dm:3:4"]);
    assert.deepEqual((await store.conversations("4", 10)).map((c) => c.conversationId), ["g:x", "dm:3:4"]);
    assert.deepEqual((await store.conversations("2", 10)).map((c) => c.conversationId), ["g:x", "dm:1:2"]);
  });

  test("markRead counts only later messages as unread, and never moves the marker back", async (store) => {
    const dm = ["1", "2"];
    // three from 2 in the same second (ids break the tie), then one from 1
    const fromTwo = newestFirst([
      message("dm:1:2", "2", dm, 1),
      message("dm:1:2", "2", dm, 1),
      message("dm:1:2", "2", dm, 1),
    ]).reverse();
    await store.store([...fromTwo, message("dm:1:2", "1", dm, 2)]);
    assert.deepEqual(await unreadBy(store, "1"), { "dm:1:2": 3 });

    await store.markRead("1", "dm:1:2", cursorOf(fromTwo[0]));
    assert.deepEqual(await unreadBy(store, "1"), { "dm:1:2": 2 }, "the tie after the marker is unread");
    await store.markRead("1", "dm:1:2", cursorOf(fromTwo[2]));
    assert.deepEqual(await unreadBy(store, "1"), { "dm:1:2": 0 });

    await store.markRead("1", "dm:1:2", cursorOf(fromTwo[1]));
    await store.markRead("1", "dm:1:2", { sentAt: new Date(start), id: fromTwo[0].id });
    assert.deepEqual(await unreadBy(store, "1"), { "dm:1:2": 0 }, "an older cursor changes nothing");

    // the marker stayed at the newest: one new message from 2 is exactly one unread
    await store.store([message("dm:1:2", "2", dm, 3)]);
    assert.deepEqual(await unreadBy(store, "1"), { "dm:1:2": 1 });
    assert.deepEqual(await unreadBy(store, "2"), { "dm:1:2": 1 }, "markers are per user");
  });

  test("concurrent markRead calls leave the newest marker, whatever their order", async (store) => {
    const dm = ["1", "2"];
    const sent = newestFirst(Array.from({ length: 8 }, (_, i) => message("dm:1:2", "2", dm, i % 3)))
      .reverse();
    await store.store(sent);
    // the marker is created by one of these calls, the others race it
    const shuffled = [...sent].sort(() => Math.random() - 0.5);
    await Promise.all(shuffled.map((m) => store.markRead("1", "dm:1:2", cursorOf(m))));
    assert.deepEqual(await unreadBy(store, "1"), { "dm:1:2": 0 });
    await store.store([message("dm:1:2", "2", dm, 9)]);
    assert.deepEqual(await unreadBy(store, "1"), { "dm:1:2": 1 });
  });

  test("markers are per conversation", async (store) => {
    const a = message("dm:1:2", "2", ["1", "2"], 1);
    const b = message("dm:1:3", "3", ["1", "3"], 2);
    await store.store([a, b]);
    await store.markRead("1", "dm:1:2", cursorOf(a));
    assert.deepEqual(await unreadBy(store, "1"), { "dm:1:2": 0, "dm:1:3": 1 });
  });

  test("unicode content round-trips", async (store) => {
    const texts = [
      "héllo wörld",
      "你好，世界",
      "مرحبا بالعالم",
      "👩‍👩‍👧‍👦 family, 🇫🇷 flag, 🙂",
      "e\u0301 combining, \u200b zero width, \ttab\nnew line",
      "quotes ' \" and \\ backslash; -- not a comment",
      "x".repeat(5_000) + "🚀",
    ];
    const sent = texts.map((content, i) => message("dm:1:2", "1", ["1", "2"], i, content));
    await store.store(sent);
    const history = await store.history("dm:1:2", { limit: 20 });
    assert.deepEqual(history.map((m) => m.content).reverse(), texts);
    assert.deepEqual((await store.conversations("2", 1))[0].lastMessage.content, texts[texts.length - 1]);
  });

  test("ping answers", async (store) => {
    await store.ping();
  });
}
