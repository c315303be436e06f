/**
 * Chat with nothing but Deno: `deno task start` without DATABASE_URL, KAFKA_BROKERS, REDIS_URL or MONGO_URL
 * stores messages in its embedded database and pushes them through its in-process bus.
 */
import assert from "node:assert/strict";
import { eventually, freePort, readiness, spawnProcess } from "./helpers.ts";

Deno.test("embedded chat: send over HTTP, pushed on the socket, stored in PGlite and read back", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-embedded-" });
  const port = freePort();
  const start = spawnProcess("start", {
    DATA_DIR: dataDir,
    PORT: String(port),
    DATABASE_URL: "",
    KAFKA_BROKERS: "",
    REDIS_URL: "",
    MONGO_URL: "",
    BATCH_FLUSH_MS: "100",
  });
  const url = `http://127.0.0.1:${port}`;
  let socket: WebSocket | undefined;
  try {
    await eventually(() => readiness(port), (status) => status === 200, {
      what: "start ready",
      timeoutMs: 90_000,
    });
    const tokens: string[] = [];
    const ids: string[] = [];
    for (const name of ["ada", "bob"]) {
      const body = JSON.stringify({
        username: `${name}x`,
        email: `${name}@example.com`,
        password: "correct horse battery",
      });
      const registered = await fetch(`${url}/users/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      ids.push((await registered.json()).id);
      const login = await fetch(`${url}/users/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: `${name}@example.com`, password: "correct horse battery" }),
      });
      tokens.push((await login.json()).accessToken);
    }

    // bob listens on a socket
    const pushed: { type: string; message?: { content: string } }[] = [];
    socket = new WebSocket(`ws://127.0.0.1:${port}/chat/ws?access_token=${tokens[1]}`);
    socket.onmessage = (event) => pushed.push(JSON.parse(String(event.data)));
    await new Promise((resolve) => socket!.onopen = resolve);

    // when ada sends to bob
    const sent = await fetch(`${url}/chat/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens[0]}` },
      body: JSON.stringify({ to: ids[1], content: "embedded hello", clientMessageId: "e-1" }),
    });
    assert.equal(sent.status, 202);
    const { conversationId } = await sent.json();

    // then bob's socket gets it and the history (in PGlite) has it
    await eventually(
      () => Promise.resolve(pushed.filter((f) => f.type === "message").length),
      (n) => n === 1,
      {
        what: "the push",
        timeoutMs: 30_000,
      },
    );
    assert.equal(pushed.find((f) => f.type === "message")?.message?.content, "embedded hello");
    const history = await eventually(
      async () => {
        const response = await fetch(`${url}/chat/conversations/${conversationId}/messages`, {
          headers: { authorization: `Bearer ${tokens[1]}` },
        });
        return (await response.json()).items as { content: string }[];
      },
      (items) => items?.length === 1,
      { what: "the stored message", timeoutMs: 30_000 },
    );
    assert.equal(history[0].content, "embedded hello");
  } finally {
    socket?.close();
    await start.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
