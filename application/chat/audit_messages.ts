/**
 * Effect of `chat-audit-group` (seed 001: the audit-log consumer of chat events): one append-only record per
 * message — who, when, which conversation, how large — never the content. Idempotent by message id.
 */
import { type Envelope, payloadOf } from "../../outbox/envelope.ts";
import { messageSent } from "./message_event.ts";
import type { AuditLog } from "./ports.ts";

const utf8 = new TextEncoder();

export function auditMessages(deps: { readonly audit: AuditLog }) {
  return async (events: readonly Envelope[]): Promise<void> => {
    await deps.audit.append(events.map((event) => {
      const p = payloadOf(event, messageSent);
      return {
        messageId: p.messageId,
        conversationId: p.conversationId,
        senderId: p.senderId,
        recipients: p.participants.filter((id) => id !== p.senderId).length,
        contentBytes: utf8.encode(p.content).length,
        sentAt: new Date(p.sentAt),
      };
    }));
  };
}
