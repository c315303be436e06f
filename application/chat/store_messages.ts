/**
 * Effect of `storage-consumer-group`: store each batch of `message.sent` in the message store. No inbox and no
 * transaction: the store skips a message whose id it holds, so a redelivered batch stores nothing twice.
 */
import { type Envelope, payloadOf } from "../../outbox/envelope.ts";
import type { Logger } from "../ports.ts";
import { messageSent } from "./message_event.ts";
import type { MessageStore } from "./ports.ts";

export function storeMessages(deps: { readonly store: MessageStore; readonly logger: Logger }) {
  return async (events: readonly Envelope[]): Promise<void> => {
    const messages = events.map((event) => {
      const p = payloadOf(event, messageSent);
      return {
        id: p.messageId,
        conversationId: p.conversationId,
        senderId: p.senderId,
        participants: p.participants,
        content: p.content,
        sentAt: new Date(p.sentAt),
      };
    });
    const stored = await deps.store.store(messages);
    deps.logger.debug("messages stored", { events: events.length, new: stored });
  };
}
