/**
 * A slow WebSocket client cannot hold up delivery to others: a client that stops reading is closed with 4008
 * once its unsent data passes CHAT_SOCKET_MAX_BUFFERED_BYTES, while another socket of the same user receives
 * every message. The slow client is a raw TCP connection that completes the handshake and then reads nothing.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { eventually, freePort, readiness, spawnProcess, testDatabase, testTopics } from "./helpers.ts";
import { chatProcessEnv, namePrefixOf, relayFor } from "./fixtures.ts";
import { signedIn } from "./users.ts";

/** Opens a WebSocket by hand and then reads nothing until asked to; returns the close code the server sent. */
async function stalledSocket(port: number, token: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(new TextEncoder().encode(
    `GET /chat/ws?access_token=${token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  // read the handshake's answer only (the server sends nothing else until a message is pushed)
  const head = new Uint8Array(1024);
  const n = (await conn.read(head)) ?? 0;
  const answer = new TextDecoder().decode(head.subarray(0, n));
  assert.match(answer, /^HTTP\/1.1 101/, answer);
  let buffered = Buffer.from(head.subarray(answer.indexOf("\r\n\r\n") + 4, n));
  return {
    /** Reads every frame until the close frame; its code (or undefined when the connection just ended). */
    async closeCode(): Promise<number | undefined> {
      const chunk = new Uint8Array(65_536);
      for (;;) {
        while (buffered.length >= 2) {
          const opcode = buffered[0] & 0x0f;
          let length = buffered[1] & 0x7f;
          let offset = 2;
          if (length === 126) [length, offset] = [buffered.readUInt16BE(2), 4];
          else if (length === 127) [length, offset] = [Number(buffered.readBigUInt64BE(2)), 10];
          if (buffered.length < offset + length) break;
          if (opcode === 0x8) return buffered.readUInt16BE(offset);
          buffered = buffered.subarray(offset + length);
        }
        const read = await conn.read(chunk);
        if (read === null) return undefined;
        buffered = Buffer.concat([buffered, chunk.subarray(0, read)]);
      }
    },
    close: () => conn.close(),
  };
}

Deno.test("a client that stops reading is closed with 4008; another socket of the user gets every message", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  await using _relay = await relayFor(db);
  const tokens = await signedIn(db, [1, 2]);
  const token = (id: number) => tokens.get(String(id))!.authorization.slice("Bearer ".length);
  const common = chatProcessEnv(db, namePrefixOf(topic), {
    CHAT_SOCKET_MAX_BUFFERED_BYTES: "65536",
    RATE_LIMIT_POINTS: "100000",
  });
  const port = freePort();
  const processes = [
    spawnProcess("api", { ...common, PORT: String(port) }),
    spawnProcess("worker", { ...common, METRICS_PORT: String(freePort()) }),
  ];
  let stalled: Awaited<ReturnType<typeof stalledSocket>> | undefined;
  let reader: WebSocket | undefined;
  try {
    await eventually(() => readiness(port), (status) => status === 200, {
      what: "the API ready",
      timeoutMs: 60_000,
    });
    // given user 2 with a socket that reads nothing and one that reads everything
    stalled = await stalledSocket(port, token(2));
    const received = new Set<string>();
    reader = new WebSocket(`ws://127.0.0.1:${port}/chat/ws?access_token=${token(2)}`);
    reader.onmessage = (event) => {
      const frame = JSON.parse(String(event.data));
      if (frame.type === "message") received.add(frame.message.id);
    };
    await new Promise((resolve) => reader!.onopen = resolve);

    // when far more is pushed than a socket's buffer holds (2 000 messages of 4 000 characters: 8 MB, more than the kernel buffers on loopback)
    const content = "x".repeat(4_000);
    for (let i = 0; i < 2000; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/chat/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token(1)}` },
        body: JSON.stringify({ to: 2, content, clientMessageId: `flood-${i}` }),
      });
      assert.equal(response.status, 202);
      await response.body?.cancel();
    }

    // then the reading socket gets every message, and the stalled one was closed with 4008
    await eventually(() => Promise.resolve(received.size), (n) => n === 2000, {
      what: "2000 messages on the reading socket",
      timeoutMs: 60_000,
    });
    assert.equal(await stalled.closeCode(), 4008);
  } finally {
    stalled?.close();
    reader?.close();
    for (const process of processes) await process.stop();
  }
});
