import assert from "node:assert/strict";
import { SocketHub, tooSlowCloseCode } from "./hub.ts";

/** A socket as the hub sees it: what it was sent, how it was closed, how much it has not sent yet. */
function fakeSocket(bufferedAmount = 0) {
  const listeners: (() => void)[] = [];
  const socket = {
    readyState: WebSocket.OPEN as number,
    bufferedAmount,
    sent: [] as string[],
    closed: undefined as number | undefined,
    send(frame: string) {
      this.sent.push(frame);
    },
    close(code: number) {
      this.closed = code;
      this.readyState = WebSocket.CLOSED;
      for (const listener of listeners) listener();
    },
    addEventListener(_type: "close", listener: () => void) {
      listeners.push(listener);
    },
  };
  return socket;
}

Deno.test("a delivery reaches each open socket of its users once; others get nothing", () => {
  const hub = new SocketHub({ maxBufferedBytes: 1_000 });
  const [a1, a2, b, c] = [fakeSocket(), fakeSocket(), fakeSocket(), fakeSocket()];
  hub.attach("1", a1 as unknown as WebSocket);
  hub.attach("1", a2 as unknown as WebSocket);
  hub.attach("2", b as unknown as WebSocket);
  hub.attach("3", c as unknown as WebSocket);
  assert.equal(hub.deliver({ userIds: ["1", "2", "1"], frame: "m1" }), 3);
  assert.deepEqual([a1.sent, a2.sent, b.sent, c.sent], [["m1"], ["m1"], ["m1"], []]);
});

Deno.test("a slow socket is closed with 4008 and the others still get the frame", () => {
  const hub = new SocketHub({ maxBufferedBytes: 1_000 });
  const [slow, fast] = [fakeSocket(5_000), fakeSocket()];
  hub.attach("1", slow as unknown as WebSocket);
  hub.attach("1", fast as unknown as WebSocket);
  assert.equal(hub.deliver({ userIds: ["1"], frame: "m1" }), 1);
  assert.equal(slow.closed, tooSlowCloseCode);
  assert.deepEqual(slow.sent, []);
  assert.deepEqual(fast.sent, ["m1"]);
  // a closed socket leaves the hub
  assert.equal(hub.size, 1);
  hub.deliver({ userIds: ["1"], frame: "m2" });
  assert.deepEqual(fast.sent, ["m1", "m2"]);
});
