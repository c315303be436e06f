/** Likes on videos and comments: the pure rules, no I/O. */

/** What can be liked. */
export const targetTypes = ["video", "comment"] as const;

/** A kind of thing that can be liked. */
export type TargetType = typeof targetTypes[number];

/** One likeable thing: its type and its numeric id (kept as a decimal string, it may exceed 2^53). */
export interface LikeTarget {
  readonly type: TargetType;
  readonly id: string;
}

/** Action codes of the seed's LikeEvent: 1 = like, 2 = unlike. */
export const LikeAction = { like: 1, unlike: 2 } as const;

/** A like action code. */
export type LikeActionCode = typeof LikeAction[keyof typeof LikeAction];

/** The fact that a user liked or unliked a target. */
export interface LikeToggled {
  readonly type: "LikeAdded" | "LikeRemoved";
  readonly userId: string;
  readonly target: LikeTarget;
  readonly action: LikeActionCode;
  readonly at: Date;
}

/** What a user asks for. */
export interface SetLikeCommand {
  readonly userId: string;
  readonly target: LikeTarget;
  readonly action: LikeActionCode;
  readonly at: Date;
}

/** Result of a decision: the event to record, or a reason why nothing changes. */
export type LikeDecision =
  | { readonly ok: true; readonly event: LikeToggled }
  | { readonly ok: false; readonly reason: "already_liked" | "not_liked" };

const maxId = 9223372036854775807n;
const idPattern = /^[1-9][0-9]{0,18}$/;

/** Parses a positive 64-bit id given as text; returns undefined when it is not one. */
export function parseId(raw: unknown): string | undefined {
  const text = typeof raw === "number" && Number.isSafeInteger(raw) ? String(raw) : raw;
  if (typeof text !== "string" || !idPattern.test(text)) return undefined;
  return BigInt(text) <= maxId ? text : undefined;
}

/** Maps a route or body word ("video", "videos", "comment", "comments") to a target type. */
export function parseTargetType(raw: unknown): TargetType | undefined {
  if (typeof raw !== "string") return undefined;
  const singular = raw.endsWith("s") ? raw.slice(0, -1) : raw;
  return (targetTypes as readonly string[]).includes(singular) ? singular as TargetType : undefined;
}

/** Decides whether a like or unlike changes anything, given whether the user likes the target now. */
export function decideLike(command: SetLikeCommand, likedNow: boolean): LikeDecision {
  if (command.action === LikeAction.like && likedNow) return { ok: false, reason: "already_liked" };
  if (command.action === LikeAction.unlike && !likedNow) return { ok: false, reason: "not_liked" };
  return {
    ok: true,
    event: {
      type: command.action === LikeAction.like ? "LikeAdded" : "LikeRemoved",
      userId: command.userId,
      target: command.target,
      action: command.action,
      at: command.at,
    },
  };
}

/** A change of one target's like count. */
export interface CountDelta {
  readonly target: LikeTarget;
  readonly delta: number;
}

/** Folds like events into one count change per target, so a hot target is written once per batch. */
export function countDeltas(events: readonly Pick<LikeToggled, "target" | "action">[]): CountDelta[] {
  const byTarget = new Map<string, { target: LikeTarget; delta: number }>();
  for (const event of events) {
    const key = `${event.target.type}:${event.target.id}`;
    const entry = byTarget.get(key) ?? { target: event.target, delta: 0 };
    entry.delta += event.action === LikeAction.like ? 1 : -1;
    byTarget.set(key, entry);
  }
  return [...byTarget.values()];
}

/** The Kafka key of a target: all events of one target stay in order on one partition. */
export function targetKey(target: LikeTarget): string {
  return `${target.type}:${target.id}`;
}
