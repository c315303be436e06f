/**
 * The WebSockets this API process holds, by user. A delivery is written to each open socket of its users; a
 * socket whose unsent data passes `maxBufferedBytes` (a slow or dead client) is closed with 4008 instead of
 * holding memory or anyone else's delivery: the client reconnects and catches up from history.
 */
import type { PushDelivery } from "../../../application/chat/ports.ts";

/** Close code of a socket that could not keep up (4000–4999: the application's own). */
export const tooSlowCloseCode = 4008;

export class SocketHub {
  readonly #sockets = new Map<string, Set<WebSocket>>();
  readonly #maxBufferedBytes: number;

  constructor(options: { maxBufferedBytes: number }) {
    this.#maxBufferedBytes = options.maxBufferedBytes;
  }

  /** Holds `socket` for `userId` until it closes. */
  attach(userId: string, socket: WebSocket): void {
    let sockets = this.#sockets.get(userId);
    if (!sockets) this.#sockets.set(userId, sockets = new Set());
    sockets.add(socket);
    socket.addEventListener("close", () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.#sockets.get(userId) === sockets) this.#sockets.delete(userId);
    });
  }

  /** Writes the frame to every open socket of the delivery's users; returns how many got it. */
  deliver(delivery: PushDelivery): number {
    let written = 0;
    for (const userId of new Set(delivery.userIds)) {
      for (const socket of this.#sockets.get(userId) ?? []) {
        if (socket.readyState !== WebSocket.OPEN) continue;
        if (socket.bufferedAmount > this.#maxBufferedBytes) {
          socket.close(tooSlowCloseCode, "too slow: reconnect and read the history");
          continue;
        }
        socket.send(delivery.frame);
        written++;
      }
    }
    return written;
  }

  /** Open sockets in all. */
  get size(): number {
    let count = 0;
    for (const sockets of this.#sockets.values()) count += sockets.size;
    return count;
  }

  /** Closes every socket (the process stops). */
  closeAll(): void {
    for (const sockets of this.#sockets.values()) {
      for (const socket of sockets) socket.close(1001, "server stopping");
    }
  }
}
