/** Likes on videos and comments: the pure rules, no I/O. */
import type { Decider } from "../shared/decider.ts";

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

/** Whether the user likes the target: the state the like decider works on. */
export interface LikeState {
  readonly liked: boolean;
}

/** Why a like command changes nothing (a repeated like or unlike is a no-op, not an error). */
export type LikeRefusal = "already_liked" | "not_liked";

/** The like rules as a decider: a like of a liked target and an unlike of an unliked one record nothing. */
export const likeDecider: Decider<SetLikeCommand, LikeState, LikeToggled, LikeRefusal> = {
  initialState: { liked: false },
  decide(command, state) {
    const wanted = command.action === LikeAction.like;
    if (wanted === state.liked) return { ok: false, error: wanted ? "already_liked" : "not_liked" };
    return {
      ok: true,
      events: [{
        type: wanted ? "LikeAdded" : "LikeRemoved",
        userId: command.userId,
        target: command.target,
        action: command.action,
        at: command.at,
      }],
    };
  },
  evolve: (_state, event) => ({ liked: event.type === "LikeAdded" }),
};

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
