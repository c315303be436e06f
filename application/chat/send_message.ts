/**
 * Use case: send a message. It only publishes: the send is recorded and its `message.sent` event committed to
 * the outbox in one transaction; storing (MongoDB) and pushing happen in their consumer groups. A client's
 * retry with the same `clientMessageId` gets the same message back and records nothing more.
 */
import { v7 as uuidv7 } from "uuid";
import {
  contentProblem,
  directConversationId,
  isGroupId,
  recipientProblem,
} from "../../domain/chat/conversation.ts";
import type { Clock, UnitOfWork } from "../ports.ts";
import { messageEnvelope } from "./message_event.ts";
import type { ChatTx, UserDirectory } from "./ports.ts";

export interface SendMessageDeps {
  readonly unitOfWork: UnitOfWork<ChatTx>;
  readonly users: UserDirectory;
  readonly clock: Clock;
  /** Topic of message events (seed: `message-events`). */
  readonly topic: string;
}

/** The sender may not post to this conversation (a 403). */
export class NotAMemberError extends Error {
  override readonly name = "NotAMemberError";
}

/** An expected refusal; the HTTP layer maps each code to its status. */
export class SendRefusal extends Error {
  override readonly name = "SendRefusal";
  constructor(readonly code: "invalid" | "unknown-recipient", readonly field: string, message: string) {
    super(message);
  }
}

export interface SendMessageRequest {
  readonly senderId: string;
  readonly to: string;
  readonly content: string;
  readonly clientMessageId: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Accepts a message; `duplicate` when this client message id was sent before (the earlier message's id). */
export async function sendMessage(
  deps: SendMessageDeps,
  request: SendMessageRequest,
): Promise<{ messageId: string; conversationId: string; duplicate: boolean }> {
  const problem = contentProblem(request.content);
  if (problem) throw new SendRefusal("invalid", "content", problem);
  const toGroup = isGroupId(request.to);
  if (!toGroup) {
    const self = recipientProblem(request.senderId, request.to);
    if (self) throw new SendRefusal("invalid", "to", self);
    if (!(await deps.users.isActiveUser(request.to))) {
      throw new SendRefusal("unknown-recipient", "to", `no user ${request.to} to write to`);
    }
  }
  const conversationId = toGroup ? request.to : directConversationId(request.senderId, request.to);
  const messageId = uuidv7();
  return await deps.unitOfWork.inTransaction(async (tx) => {
    // The participants as of this send: a group's members now (only a member may post).
    let participants = [request.senderId, request.to];
    if (toGroup) {
      const group = await tx.groups.find(conversationId);
      if (!group) throw new SendRefusal("unknown-recipient", "to", "no such group");
      if (!group.members.includes(request.senderId)) throw new NotAMemberError("not a member of this group");
      participants = group.members;
    }
    const fresh = await tx.sends.record({
      senderId: request.senderId,
      clientMessageId: request.clientMessageId,
      messageId,
      conversationId,
    });
    if (!fresh) {
      const earlier = await tx.sends.find(request.senderId, request.clientMessageId);
      if (!earlier) throw new Error("a recorded send vanished");
      return { ...earlier, duplicate: true };
    }
    await tx.outbox.append(deps.topic, [
      messageEnvelope({
        id: messageId,
        conversationId,
        senderId: request.senderId,
        participants,
        content: request.content,
        sentAt: deps.clock.now(),
        clientMessageId: request.clientMessageId,
      }, request.headers),
    ]);
    return { messageId, conversationId, duplicate: false };
  });
}
