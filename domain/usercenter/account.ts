/**
 * The user center's write rules (seed 002): who may register, what a profile may hold, which status changes are
 * allowed. Pure: the password arrives hashed, the time as a value; the use cases do the I/O around it.
 */
import type { Decider } from "../shared/decider.ts";

export const userStatuses = ["active", "suspended", "deleted"] as const;
/** `deleted` is terminal: a deleted account never signs in again. */
export type UserStatus = typeof userStatuses[number];

export const roles = ["user", "admin"] as const;
export type Role = typeof roles[number];

/** Profile fields a user edits (PATCH /users/me). */
export interface Profile {
  readonly displayName?: string | null;
  readonly bio?: string | null;
}

/** The state the rules are decided on: the account as stored. */
export interface UserState {
  readonly exists: boolean;
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly status: UserStatus;
  readonly role: Role;
  /** Bumped on every credential change (password, status): tokens carry it and older ones stop working. */
  readonly tokenVersion: number;
  readonly profile: Profile;
}

/** The state of a user that does not exist (yet). */
export const noUser: UserState = {
  exists: false,
  id: "",
  username: "",
  email: "",
  status: "active",
  role: "user",
  tokenVersion: 0,
  profile: {},
};

/** What a user (or an administrator, for status) asks for. */
export type UserCommand =
  | {
    readonly kind: "register";
    readonly id: string;
    readonly username: string;
    readonly email: string;
    readonly role: Role;
    readonly at: Date;
  }
  | { readonly kind: "update"; readonly username?: string; readonly profile: Profile; readonly at: Date }
  | { readonly kind: "change-password"; readonly at: Date }
  | { readonly kind: "change-status"; readonly status: "active" | "suspended"; readonly at: Date }
  | { readonly kind: "delete"; readonly at: Date };

/** What happened to an account; each becomes one event on `user.events`. */
export type UserFact =
  | {
    readonly kind: "registered";
    readonly userId: string;
    readonly username: string;
    readonly email: string;
    readonly role: Role;
    readonly at: Date;
  }
  | {
    readonly kind: "updated";
    readonly userId: string;
    readonly changed: readonly string[];
    readonly username: string;
    readonly profile: Profile;
    readonly at: Date;
  }
  | { readonly kind: "password-changed"; readonly userId: string; readonly at: Date }
  | {
    readonly kind: "status-changed";
    readonly userId: string;
    readonly from: UserStatus;
    readonly to: UserStatus;
    readonly at: Date;
  }
  | { readonly kind: "deleted"; readonly userId: string; readonly at: Date };

/** Expected refusals. */
export type UserRefusal = "already-registered" | "not-found" | "deleted" | "nothing-to-change";

/** The rules as a decider. */
export const userDecider: Decider<UserCommand, UserState, UserFact, UserRefusal> = {
  initialState: noUser,
  decide(command, state) {
    if (command.kind === "register") {
      if (state.exists) return { ok: false, error: "already-registered" };
      const { id, username, email, role, at } = command;
      return { ok: true, events: [{ kind: "registered", userId: id, username, email, role, at }] };
    }
    if (!state.exists) return { ok: false, error: "not-found" };
    if (state.status === "deleted") return { ok: false, error: "deleted" };
    const userId = state.id;
    switch (command.kind) {
      case "update": {
        const changed = changedFields(state, command);
        if (changed.length === 0) return { ok: true, events: [] };
        const username = command.username ?? state.username;
        const given = Object.entries(command.profile).filter(([, value]) => value !== undefined);
        const profile = { ...state.profile, ...Object.fromEntries(given) };
        return {
          ok: true,
          events: [{ kind: "updated", userId, changed, username, profile, at: command.at }],
        };
      }
      case "change-password":
        return { ok: true, events: [{ kind: "password-changed", userId, at: command.at }] };
      case "change-status":
        if (command.status === state.status) return { ok: true, events: [] };
        return {
          ok: true,
          events: [{
            kind: "status-changed",
            userId,
            from: state.status,
            to: command.status,
            at: command.at,
          }],
        };
      case "delete":
        return { ok: true, events: [{ kind: "deleted", userId, at: command.at }] };
    }
  },
  evolve(state, fact) {
    switch (fact.kind) {
      case "registered":
        return {
          exists: true,
          id: fact.userId,
          username: fact.username,
          email: fact.email,
          status: "active",
          role: fact.role,
          tokenVersion: 0,
          profile: {},
        };
      case "updated":
        return { ...state, username: fact.username, profile: fact.profile };
      case "password-changed":
        return { ...state, tokenVersion: state.tokenVersion + 1 };
      case "status-changed":
        return { ...state, status: fact.to, tokenVersion: state.tokenVersion + 1 };
      case "deleted":
        return { ...state, status: "deleted", tokenVersion: state.tokenVersion + 1 };
    }
  },
};

function changedFields(state: UserState, command: Extract<UserCommand, { kind: "update" }>): string[] {
  const changed: string[] = [];
  if (command.username !== undefined && command.username !== state.username) changed.push("username");
  for (const [field, value] of Object.entries(command.profile)) {
    if (value !== undefined && (state.profile as Record<string, unknown>)[field] !== value) {
      changed.push(field);
    }
  }
  return changed;
}

/** Whether an account in `status` may sign in and use its tokens. */
export function canSignIn(status: UserStatus): boolean {
  return status === "active";
}
