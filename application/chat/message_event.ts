/** `message.sent` on `message-events` (seed 003), keyed by conversation: one conversation keeps its order. */
import { z } from "zod";
import { createEnvelope, type Envelope, type EventDefinition } from "../../outbox/envelope.ts";
import type { StoredMessage } from "./ports.ts";

const id = z.string().regex(/^[1-9][0-9]{0,18}$/);

export const messageSent: EventDefinition<{
  messageId: string;
  conversationId: string;
  senderId: string;
  participants: string[];
  content: string;
  sentAt: string;
  clientMessageId: string;
}> = {
  eventType: "message.sent",
  version: 1,
  payload: z.object({
    messageId: z.uuid(),
    conversationId: z.string().min(1).max(200),
    senderId: id,
    participants: z.array(id).min(1),
    content: z.string(),
    sentAt: z.iso.datetime({ offset: true }),
    clientMessageId: z.string(),
  }),
};

/** The event of an accepted message. */
export function messageEnvelope(
  message: StoredMessage & { clientMessageId: string },
  headers: Readonly<Record<string, string>> = {},
): Envelope {
  return createEnvelope({
    eventId: message.id,
    eventType: messageSent.eventType,
    version: messageSent.version,
    aggregateType: "conversation",
    aggregateId: message.conversationId,
    occurredAt: message.sentAt,
    headers,
    payload: {
      messageId: message.id,
      conversationId: message.conversationId,
      senderId: message.senderId,
      participants: [...message.participants],
      content: message.content,
      sentAt: message.sentAt.toISOString(),
      clientMessageId: message.clientMessageId,
    },
  });
}
