/**
 * The user center's use cases: register, sign in, read and edit the profile, change the password, delete the
 * account, and (administrators) suspend or reactivate one. Every change commits its event on `user.events` in
 * the same transaction; the session cache is dropped after every change of status or credentials.
 */
import { handleCommand } from "../command_handler.ts";
import type { Clock, Logger, UnitOfWork } from "../ports.ts";
import {
  emailProblem,
  normalizeEmail,
  passwordProblem,
  usernameProblem,
} from "../../domain/usercenter/credentials.ts";
import {
  canSignIn,
  type Profile,
  type Role,
  userDecider,
  type UserState,
} from "../../domain/usercenter/account.ts";
import { factEnvelope, userEnvelope, userLoggedIn, userLoginFailed } from "./user_events.ts";
import type {
  LoginThrottle,
  PasswordHasher,
  SessionCache,
  StoredUser,
  TokenService,
  UserStore,
  UsersTx,
} from "./ports.ts";

/** What the use cases need. */
export interface AccountsDeps {
  readonly unitOfWork: UnitOfWork<UsersTx>;
  /** Reads outside a transaction (sign-in lookups, profile reads). */
  readonly users: UserStore;
  readonly hasher: PasswordHasher;
  readonly tokens: TokenService;
  readonly sessions: SessionCache;
  readonly throttle: LoginThrottle;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Topic of the user events (seed: `user.events`). */
  readonly topic: string;
}

/** An expected refusal of a use case; the HTTP layer turns each code into its status. */
export class AccountRefusal extends Error {
  override readonly name = "AccountRefusal";
  constructor(
    readonly code:
      | "invalid"
      | "email-taken"
      | "username-taken"
      | "invalid-credentials"
      | "throttled"
      | "suspended"
      | "not-found"
      | "own-status",
    message: string,
    readonly details: { readonly errors?: readonly FieldProblem[]; readonly retryAfterSeconds?: number } = {},
  ) {
    super(message);
  }
}

/** One bad field of a request. */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** Request metadata carried into events. */
export interface RequestContext {
  readonly address: string;
  readonly userAgent: string;
  /** Trace headers (request id, traceparent) carried into the event. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The account as its owner sees it. */
export interface AccountView {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly role: Role;
  readonly status: string;
  readonly displayName: string | null;
  readonly bio: string | null;
  readonly createdAt: string;
  readonly lastLoginAt: string | null;
}

export function accountView(user: StoredUser): AccountView {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    role: user.role,
    status: user.status,
    displayName: user.profile.displayName ?? null,
    bio: user.profile.bio ?? null,
    createdAt: user.createdAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}

function refuseInvalid(problems: (FieldProblem | undefined)[]): void {
  const errors = problems.filter((p): p is FieldProblem => p !== undefined);
  if (errors.length > 0) {
    throw new AccountRefusal("invalid", errors.map((e) => `${e.field}: ${e.message}`).join("; "), { errors });
  }
}

function problemOf(field: string, message: string | undefined): FieldProblem | undefined {
  return message === undefined ? undefined : { field, message };
}

/** Registers an account; 409-style refusals when the address or the username is taken. */
export async function register(
  deps: Pick<AccountsDeps, "unitOfWork" | "users" | "hasher" | "clock" | "topic">,
  input: { username: string; email: string; password: string; role?: Role },
  context: Pick<RequestContext, "headers"> = {},
): Promise<AccountView> {
  const email = normalizeEmail(input.email);
  const username = input.username.trim();
  refuseInvalid([
    problemOf("email", emailProblem(email)),
    problemOf("username", usernameProblem(username)),
    problemOf("password", passwordProblem(input.password, { username, email })),
  ]);
  if (await deps.users.byEmail(email)) throw emailTaken();
  if (await deps.users.usernameTaken(username)) throw usernameTaken();
  // Hashed before the transaction: it takes tens of milliseconds and holds no lock.
  const passwordHash = await deps.hasher.hash(input.password);
  const id = await deps.users.nextId();
  const at = deps.clock.now();
  const outcome = await handleCommand(deps.unitOfWork, {
    decider: userDecider,
    load: async (tx) => (await tx.users.byEmail(email)) ?? userDecider.initialState,
    // The unique indexes decide between two concurrent registrations: the loser inserts nothing.
    save: (tx, state) =>
      tx.users.insert({ id, username: state.username, email, passwordHash, role: state.role, createdAt: at }),
    topic: deps.topic,
    toEnvelopes: (facts) => facts.map((fact) => factEnvelope(fact, context.headers)),
  }, { kind: "register", id, username, email, role: input.role ?? "user", at });
  if (!outcome.ok || outcome.events.length === 0) {
    throw (await deps.users.byEmail(email)) ? emailTaken() : usernameTaken();
  }
  const user = await deps.users.byId(id);
  if (!user) throw new Error(`account ${id} vanished after its registration`);
  return accountView(user);
}

function emailTaken() {
  return new AccountRefusal("email-taken", "an account with this e-mail address exists");
}

function usernameTaken() {
  return new AccountRefusal("username-taken", "this username is taken");
}

const invalidCredentials = () =>
  new AccountRefusal("invalid-credentials", "wrong e-mail address or password");

/**
 * Signs in. A wrong password and an unknown address get the same refusal after the same work (a hash is
 * verified either way); failures are counted per account and per address, and either blocked answers
 * `throttled` until its window passes.
 */
export async function login(
  deps: AccountsDeps,
  input: { email: string; password: string },
  context: RequestContext,
): Promise<{ accessToken: string; tokenType: "Bearer"; expiresIn: number }> {
  const email = normalizeEmail(input.email);
  const keys = [`account:${email}`, `address:${context.address}`];
  // Spent before the hash is checked: concurrent guesses count one by one.
  const waiting = await deps.throttle.take(keys);
  if (waiting > 0) throw throttled(waiting);
  const user = await deps.users.byEmail(email);
  if (!user || user.status === "deleted") {
    await deps.hasher.verifyNothing(input.password);
    throw invalidCredentials();
  }
  const at = deps.clock.now();
  const attempt = { address: context.address, userAgent: context.userAgent, at: at.toISOString() };
  if (!(await deps.hasher.verify(user.passwordHash, input.password))) {
    // Recorded without holding the answer: an unknown address has no such write, and the two answers must take
    // the same time. A lost record (the database failing right now) is logged; the throttle counted it anyway.
    deps.unitOfWork.inTransaction((tx) =>
      tx.outbox.append(deps.topic, [
        userEnvelope(userLoginFailed, user.id, { userId: user.id, ...attempt }, context.headers),
      ])
    ).catch((error) =>
      deps.logger.warn("failed sign-in not recorded", { userId: user.id, error: String(error) })
    );
    throw invalidCredentials();
  }
  if (!canSignIn(user.status)) throw new AccountRefusal("suspended", "this account is suspended");
  await deps.throttle.reset(keys[0]);
  await deps.throttle.refund(keys[1]);
  const rehash = deps.hasher.needsRehash(user.passwordHash)
    ? await deps.hasher.hash(input.password)
    : undefined;
  await deps.unitOfWork.inTransaction(async (tx) => {
    // Only over the hash just verified: a password changed meanwhile is not undone.
    if (rehash) await tx.users.setPasswordHash(user.id, rehash, user.passwordHash);
    await tx.outbox.append(deps.topic, [
      userEnvelope(userLoggedIn, user.id, { userId: user.id, ...attempt }, context.headers),
    ]);
  });
  const { token, expiresIn } = await deps.tokens.issue({
    userId: user.id,
    role: user.role,
    tokenVersion: user.tokenVersion,
  });
  return { accessToken: token, tokenType: "Bearer", expiresIn };
}

function throttled(seconds: number) {
  return new AccountRefusal("throttled", `too many failed sign-ins; try again in ${seconds} s`, {
    retryAfterSeconds: seconds,
  });
}

/** The account of `userId`. */
export async function me(deps: Pick<AccountsDeps, "users">, userId: string): Promise<AccountView> {
  const user = await deps.users.byId(userId);
  if (!user || user.status === "deleted") throw new AccountRefusal("not-found", "no such account");
  return accountView(user);
}

/** Changes the username and profile fields given (others stay). */
export async function updateProfile(
  deps: AccountsDeps,
  userId: string,
  input: { username?: string; displayName?: string | null; bio?: string | null },
  context: Pick<RequestContext, "headers"> = {},
): Promise<AccountView> {
  const username = input.username?.trim();
  refuseInvalid([problemOf("username", username === undefined ? undefined : usernameProblem(username))]);
  if (username !== undefined && await deps.users.usernameTaken(username, userId)) throw usernameTaken();
  // Only the fields sent: an absent one keeps its value.
  const profile: Profile = Object.fromEntries(
    (["displayName", "bio"] as const).filter((field) => input[field] !== undefined).map((f) => [f, input[f]]),
  );
  await change(deps, userId, { kind: "update", username, profile, at: deps.clock.now() }, {
    context,
    // A concurrent request took the name between the check and the write: the unique index says so.
    save: async (tx, state) => {
      if (!(await tx.users.save(state))) throw usernameTaken();
      return true;
    },
  });
  return me(deps, userId);
}

/** Changes the password after checking the current one; returns a new token (older ones stop working). */
export async function changePassword(
  deps: AccountsDeps,
  userId: string,
  input: { currentPassword: string; newPassword: string },
  context: RequestContext,
): Promise<{ accessToken: string; tokenType: "Bearer"; expiresIn: number }> {
  const user = await deps.users.byId(userId);
  if (!user || user.status === "deleted") throw new AccountRefusal("not-found", "no such account");
  const keys = [`account:${user.email}`, `address:${context.address}`];
  const waiting = await deps.throttle.take(keys);
  if (waiting > 0) throw throttled(waiting);
  refuseInvalid([
    problemOf(
      "newPassword",
      passwordProblem(input.newPassword, { username: user.username, email: user.email }),
    ),
    problemOf(
      "newPassword",
      input.newPassword === input.currentPassword ? "must differ from the current password" : undefined,
    ),
  ]);
  if (!(await deps.hasher.verify(user.passwordHash, input.currentPassword))) {
    throw new AccountRefusal("invalid", "currentPassword: wrong password", {
      errors: [{ field: "currentPassword", message: "wrong password" }],
    });
  }
  await deps.throttle.reset(keys[0]);
  await deps.throttle.refund(keys[1]);
  const hash = await deps.hasher.hash(input.newPassword);
  const state = await change(deps, userId, { kind: "change-password", at: deps.clock.now() }, {
    context,
    save: async (tx, state) => {
      // The row is locked now: the password verified above must still be the current one.
      if (!(await tx.users.setPasswordHash(userId, hash, user.passwordHash))) {
        throw new AccountRefusal("invalid", "currentPassword: the password changed meanwhile", {
          errors: [{ field: "currentPassword", message: "the password changed meanwhile" }],
        });
      }
      return tx.users.save(state);
    },
  });
  const { token, expiresIn } = await deps.tokens.issue({
    userId,
    role: state.role,
    tokenVersion: state.tokenVersion,
  });
  return { accessToken: token, tokenType: "Bearer", expiresIn };
}

/** Soft-deletes the account: it can no longer sign in, and its tokens stop working at once. */
export async function deleteAccount(
  deps: AccountsDeps,
  userId: string,
  context: Pick<RequestContext, "headers"> = {},
): Promise<void> {
  await change(deps, userId, { kind: "delete", at: deps.clock.now() }, {
    context,
    save: (tx, state) => tx.users.save(state),
  });
}

/** An administrator suspends or reactivates an account (not their own). */
export async function changeStatus(
  deps: AccountsDeps,
  by: string | undefined,
  userId: string,
  status: "active" | "suspended",
  context: Pick<RequestContext, "headers"> = {},
): Promise<AccountView> {
  if (by === userId) {
    throw new AccountRefusal("own-status", "an administrator cannot change their own status");
  }
  await change(deps, userId, { kind: "change-status", status, at: deps.clock.now() }, {
    context,
    save: (tx, state) => tx.users.save(state),
  });
  const user = await deps.users.byId(userId);
  if (!user) throw new AccountRefusal("not-found", "no such account");
  return accountView(user);
}

/** Runs a change of an existing account (locked for the transaction), then drops its cached session. */
async function change(
  deps: AccountsDeps,
  userId: string,
  command: Parameters<typeof userDecider.decide>[0],
  options: {
    context: Pick<RequestContext, "headers">;
    save: (tx: UsersTx, state: UserState) => Promise<boolean>;
  },
): Promise<UserState> {
  const outcome = await handleCommand(deps.unitOfWork, {
    decider: userDecider,
    load: async (tx) => (await tx.users.byId(userId, { forUpdate: true })) ?? userDecider.initialState,
    save: options.save,
    topic: deps.topic,
    toEnvelopes: (facts) => facts.map((fact) => factEnvelope(fact, options.context.headers)),
  }, command);
  if (!outcome.ok) {
    throw new AccountRefusal(
      "not-found",
      outcome.error === "deleted" ? "this account is deleted" : "no such account",
    );
  }
  if (outcome.events.length > 0) {
    const { status, role, tokenVersion } = outcome.state;
    await deps.sessions.set(userId, { status, role, tokenVersion }).catch((error) =>
      // The consumer writes it again after the event, and an entry expires within its TTL anyway.
      deps.logger.warn("session cache update failed", { userId, error: String(error) })
    );
  }
  return outcome.state;
}
