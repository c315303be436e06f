/**
 * Group conversations: create one, add and remove members. Each change is written with its event on
 * `message-events` (keyed by the group, so it stays in order with the group's messages) in one transaction.
 */
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import {
  directParticipants,
  groupProblem,
  isGroupId,
  maxGroupMembers,
} from "../../domain/chat/conversation.ts";
import { createEnvelope, type EventDefinition } from "../../outbox/envelope.ts";
import type { Clock, UnitOfWork } from "../ports.ts";
import type { ChatTx, Groups, UserDirectory } from "./ports.ts";
import { NotAMemberError, SendRefusal } from "./send_message.ts";

const id = z.string().regex(/^[1-9][0-9]{0,18}$/);

export const groupCreated: EventDefinition<
  { conversationId: string; name: string; ownerId: string; members: string[] }
> = {
  eventType: "group.created",
  version: 1,
  payload: z.object({ conversationId: z.string(), name: z.string(), ownerId: id, members: z.array(id) }),
};

export const groupMembersChanged: EventDefinition<
  { conversationId: string; added: string[]; removed: string[]; by: string }
> = {
  eventType: "group.members_changed",
  version: 1,
  payload: z.object({ conversationId: z.string(), added: z.array(id), removed: z.array(id), by: id }),
};

export interface GroupDeps {
  readonly unitOfWork: UnitOfWork<ChatTx>;
  readonly users: UserDirectory;
  readonly clock: Clock;
  readonly topic: string;
}

/** The members of a conversation: the pair of a direct one, a group's members, or undefined when it is none. */
export async function conversationMembers(
  groups: Pick<Groups, "find">,
  conversationId: string,
): Promise<string[] | undefined> {
  const pair = directParticipants(conversationId);
  if (pair) return pair;
  if (!isGroupId(conversationId)) return undefined;
  return (await groups.find(conversationId))?.members;
}

function envelope<P>(definition: EventDefinition<P>, conversationId: string, payload: P, at: Date) {
  return createEnvelope({
    eventType: definition.eventType,
    version: definition.version,
    aggregateType: "conversation",
    aggregateId: conversationId,
    occurredAt: at,
    payload,
  });
}

/** Creates a group of `ownerId` and `members`. */
export async function createGroup(
  deps: GroupDeps,
  request: { ownerId: string; name: string; members: readonly string[] },
): Promise<{ conversationId: string; name: string; members: string[] }> {
  const others = [...new Set(request.members.filter((m) => m !== request.ownerId))];
  const problem = groupProblem(request.name, others);
  if (problem) throw new SendRefusal("invalid", problem.split(":")[0], problem);
  const unknown = await deps.users.unknownUsers(others);
  if (unknown.length > 0) {
    throw new SendRefusal("unknown-recipient", "members", `no users ${unknown.join(", ")}`);
  }
  const conversationId = `g:${uuidv7()}`;
  const members = [request.ownerId, ...others];
  await deps.unitOfWork.inTransaction(async (tx) => {
    await tx.groups.create({
      conversationId,
      name: request.name.trim(),
      ownerId: request.ownerId,
      members: others,
    });
    await tx.outbox.append(deps.topic, [
      envelope(groupCreated, conversationId, {
        conversationId,
        name: request.name.trim(),
        ownerId: request.ownerId,
        members,
      }, deps.clock.now()),
    ]);
  });
  return { conversationId, name: request.name.trim(), members };
}

/** The owner adds members; any member may remove themself, the owner anyone but themself. */
export async function changeMembers(
  deps: GroupDeps,
  request: { by: string; conversationId: string; add?: readonly string[]; remove?: string },
): Promise<string[]> {
  if (request.add?.length) {
    const unknown = await deps.users.unknownUsers(request.add);
    if (unknown.length > 0) {
      throw new SendRefusal("unknown-recipient", "userId", `no users ${unknown.join(", ")}`);
    }
  }
  return await deps.unitOfWork.inTransaction(async (tx) => {
    const group = await tx.groups.find(request.conversationId);
    if (!group) throw new SendRefusal("unknown-recipient", "conversationId", "no such group");
    const owner = group.ownerId === request.by;
    if (!group.members.includes(request.by)) throw new NotAMemberError("not a member of this group");
    if (request.add?.length && !owner) throw new NotAMemberError("only the group's owner adds members");
    if (request.remove !== undefined) {
      if (request.remove !== request.by && !owner) throw new NotAMemberError("only the owner removes others");
      if (request.remove === group.ownerId) {
        throw new SendRefusal("invalid", "userId", "the owner cannot leave");
      }
    }
    if (request.add && group.members.length + request.add.length > maxGroupMembers) {
      throw new SendRefusal("invalid", "userId", `at most ${maxGroupMembers} members`);
    }
    const added = request.add ? await tx.groups.add(request.conversationId, request.add) : [];
    const removed =
      request.remove !== undefined && await tx.groups.remove(request.conversationId, request.remove)
        ? [request.remove]
        : [];
    if (added.length + removed.length > 0) {
      await tx.outbox.append(deps.topic, [
        envelope(
          groupMembersChanged,
          request.conversationId,
          { conversationId: request.conversationId, added, removed, by: request.by },
          deps.clock.now(),
        ),
      ]);
    }
    return (await tx.groups.find(request.conversationId))!.members;
  });
}
