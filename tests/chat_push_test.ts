/**
 * Live push over real WebSockets across two API processes: the push group (in a worker) publishes each message
 * once on the bus, and every API process writes it to the sockets it holds for the participants.
 */
import assert from "node:assert/strict";
import { eventually, freePort, readiness, spawnProcess, testDatabase, testTopics } from "./helpers.ts";
import { chatProcessEnv, namePrefixOf, relayFor } from "./fixtures.ts";
import { signedIn } from "./users.ts";

/** A WebSocket client that records every frame it receives. */
async function connect(port: number, token: string) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/chat/ws?access_token=${token}`);
  const frames: { type: string; [key: string]: unknown }[] = [];
  socket.onmessage = (event) => frames.push(JSON.parse(String(event.data)));
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("the socket did not open"));
  });
  return {
    frames,
    messages: () =>
      frames.filter((f) => f.type === "message").map((f) => f.message as { id: string; content: string }),
    send: (frame: Record<string, unknown>) => socket.send(JSON.stringify(frame)),
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.onclose = () => resolve();
        socket.close();
      }),
  };
}

Deno.test("two API processes: a message reaches every socket of its participants once, whichever process holds it", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  const prefix = namePrefixOf(topic);
  await using _relay = await relayFor(db);
  const tokens = await signedIn(db, [1, 2, 3]);
  const token = (id: number) => tokens.get(String(id))!.authorization.slice("Bearer ".length);
  const common = chatProcessEnv(db, prefix);
  const ports = [freePort(), freePort()];
  const processes = [
    spawnProcess("api", { ...common, PORT: String(ports[0]) }),
    spawnProcess("api", { ...common, PORT: String(ports[1]) }),
    spawnProcess("worker", { ...common, METRICS_PORT: String(freePort()) }),
  ];
  const sockets: Awaited<ReturnType<typeof connect>>[] = [];
  try {
    for (const port of ports) {
      await eventually(() => readiness(port).catch(() => 0), (status) => status === 200, {
        what: `the API on ${port} ready`,
        timeoutMs: 60_000,
      });
    }

    // a socket without a valid token is refused before the upgrade
    await assert.rejects(connect(ports[0], "not-a-token"), /did not open/);
    await assert.rejects(connect(ports[0], token(1).slice(0, -2) + "xx"), /did not open/);

    // given user 1 on the first process, user 2 on both, user 3 (a stranger) on the second
    const [one, twoA, twoB, three] = [
      await connect(ports[0], token(1)),
      await connect(ports[0], token(2)),
      await connect(ports[1], token(2)),
      await connect(ports[1], token(3)),
    ];
    sockets.push(one, twoA, twoB, three);

    // when user 1 sends over the socket, and user 2 answers over HTTP through the other process
    one.send({ type: "send", to: 2, content: "hi from the socket", clientMessageId: "ws-1" });
    const ack = await eventually(
      () => Promise.resolve(one.frames.find((f) => f.type === "ack")),
      (frame) => frame !== undefined,
      { what: "the ack of the send frame" },
    );
    assert.equal(ack!.clientMessageId, "ws-1");
    const answered = await fetch(`http://127.0.0.1:${ports[1]}/chat/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token(2)}` },
      body: JSON.stringify({ to: 1, content: "hi back over HTTP", clientMessageId: "http-1" }),
    });
    assert.equal(answered.status, 202);
    await answered.body?.cancel();

    // then each participant's socket gets both messages, on either process; the stranger gets nothing
    for (const socket of [one, twoA, twoB]) {
      await eventually(() => Promise.resolve(socket.messages().length), (n) => n >= 2, {
        what: "both messages pushed",
        timeoutMs: 30_000,
      });
    }
    // once the history has both (the storage group ran too), no socket got a message twice
    await eventually(
      async () => {
        const response = await fetch(`http://127.0.0.1:${ports[0]}/chat/conversations/dm:1:2/messages`, {
          headers: { authorization: `Bearer ${token(1)}` },
        });
        return (await response.json()).items?.length ?? 0;
      },
      (n) => n === 2,
      { what: "both messages in history" },
    );
    for (const socket of [one, twoA, twoB]) {
      assert.deepEqual(socket.messages().map((m) => m.content).sort(), [
        "hi back over HTTP",
        "hi from the socket",
      ]);
      assert.equal(new Set(socket.messages().map((m) => m.id)).size, 2);
    }
    assert.deepEqual(three.messages(), [], "a stranger's socket receives nothing");

    // a read receipt over the socket: user 2 marks the conversation read up to the newest message
    const unread = async () => {
      const response = await fetch(`http://127.0.0.1:${ports[1]}/chat/conversations`, {
        headers: { authorization: `Bearer ${token(2)}` },
      });
      return (await response.json()).items[0].unread as number;
    };
    assert.equal(await unread(), 1, "user 1's message is unread for user 2");
    const newest = await fetch(`http://127.0.0.1:${ports[1]}/chat/conversations/dm:1:2/messages?limit=1`, {
      headers: { authorization: `Bearer ${token(2)}` },
    });
    const [{ cursor }] = (await newest.json()).items;
    twoB.send({ type: "read", conversationId: "dm:1:2", upTo: cursor });
    await eventually(
      () => Promise.resolve(twoB.frames.some((f) => f.type === "ack" && f.read === "dm:1:2")),
      (acked) => acked,
      {
        what: "the read ack",
      },
    );
    assert.equal(await unread(), 0);

    // and bad frames get an error frame, sending nothing
    three.send({ type: "send", to: 3, content: "to myself", clientMessageId: "self" });
    three.send({ type: "nonsense" });
    await eventually(
      () => Promise.resolve(three.frames.filter((f) => f.type === "error").length),
      (n) => n === 2,
      { what: "two error frames" },
    );
  } finally {
    for (const socket of sockets) await socket.close();
    for (const process of processes) await process.stop();
  }
});
