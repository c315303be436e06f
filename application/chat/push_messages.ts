/**
 * Effect of `push-consumer-group`: each `message.sent` goes to every open WebSocket of its participants (the
 * sender's other devices too). At least once, no inbox: a redelivered batch pushes again, and clients drop a
 * message id they already show.
 */
import { type Envelope, payloadOf } from "../../outbox/envelope.ts";
import { messageSent } from "./message_event.ts";
import type { PushBus } from "./ports.ts";

/** The frame of a new message, as every client receives it. */
export function messageFrame(message: {
  messageId: string;
  conversationId: string;
  senderId: string;
  content: string;
  sentAt: string;
}): string {
  return JSON.stringify({
    type: "message",
    message: {
      id: message.messageId,
      conversationId: message.conversationId,
      senderId: message.senderId,
      content: message.content,
      sentAt: message.sentAt,
    },
  });
}

export function pushMessages(deps: { readonly bus: PushBus }) {
  return async (events: readonly Envelope[]): Promise<void> => {
    for (const event of events) {
      const p = payloadOf(event, messageSent);
      await deps.bus.publish({ userIds: p.participants, frame: messageFrame(p) });
    }
  };
}
