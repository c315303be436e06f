/**
 * Chat's rules (seed 003): who a direct conversation belongs to, and what a message may hold. Pure: the use
 * case supplies ids and time.
 */

/** Longest message, in characters a person typed (code points). */
export const maxContentChars = 4000;

/** The id of the direct conversation of two users: the same whichever of them writes first. */
export function directConversationId(a: string, b: string): string {
  const [low, high] = BigInt(a) < BigInt(b) ? [a, b] : [b, a];
  return `dm:${low}:${high}`;
}

/** The two users of a direct conversation id, or undefined when it is not one. */
export function directParticipants(conversationId: string): [string, string] | undefined {
  const match = /^dm:([1-9][0-9]{0,18}):([1-9][0-9]{0,18})$/.exec(conversationId);
  if (!match || BigInt(match[1]) >= BigInt(match[2])) return undefined;
  return [match[1], match[2]];
}

/** Why `content` cannot be sent, or undefined when it can. */
export function contentProblem(content: string): string | undefined {
  if (content.trim().length === 0) return "a message needs some text";
  if ([...content].length > maxContentChars) return `at most ${maxContentChars} characters`;
  if (content.includes("\u0000")) return "must not contain NUL";
  return undefined;
}

/** Why a user cannot write to `recipient`, or undefined when they can. */
export function recipientProblem(sender: string, recipient: string): string | undefined {
  return sender === recipient ? "write to another user" : undefined;
}

/** Largest group, its owner included. */
export const maxGroupMembers = 100;

/** Whether `conversationId` names a group (`g:<uuid>`). */
export function isGroupId(conversationId: string): boolean {
  return /^g:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(conversationId);
}

/** Why a group cannot be created with this name and these members (the owner aside), or undefined. */
export function groupProblem(name: string, members: readonly string[]): string | undefined {
  if (name.trim().length === 0 || [...name].length > 100) return "name: 1 to 100 characters";
  if (members.length === 0) return "members: at least one other user";
  if (new Set(members).size + 1 > maxGroupMembers) {
    return `members: at most ${maxGroupMembers} with the owner`;
  }
  return undefined;
}
