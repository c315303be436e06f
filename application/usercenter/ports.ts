/** What the user center's use cases and handlers need from the outside. */
import type { Anomaly, LoginAttempt } from "../../domain/usercenter/anomaly.ts";
import type { Role, UserState, UserStatus } from "../../domain/usercenter/account.ts";
import type { InboxTx } from "../../outbox/dispatch.ts";
import type { OutboxWriter } from "../../outbox/ports.ts";

/** An account as stored. */
export interface StoredUser extends UserState {
  readonly passwordHash: string;
  readonly createdAt: Date;
  readonly lastLoginAt: Date | null;
}

/** The accounts. */
export interface UserStore {
  /** A fresh id for a new account. */
  nextId(): Promise<string>;
  byEmail(email: string): Promise<StoredUser | undefined>;
  /** With `forUpdate`, locks the row until the transaction ends (one change of an account at a time). */
  byId(id: string, options?: { forUpdate?: boolean }): Promise<StoredUser | undefined>;
  /** Inserts; false when the e-mail address or the username is taken (by a concurrent request too). */
  insert(user: NewUser): Promise<boolean>;
  /** Writes username, profile, status, role and token version. False when the username is taken. */
  save(user: UserState): Promise<boolean>;
  /** Sets the hash; with `expected`, only while the stored hash is that one (false otherwise). */
  setPasswordHash(userId: string, hash: string, expected?: string): Promise<boolean>;
  /** Whether another account uses `username`. */
  usernameTaken(username: string, exceptId?: string): Promise<boolean>;
  /** Moves last_login_at forward to `at` (never back: events may arrive late). */
  touchLastLogin(userId: string, at: Date): Promise<void>;
  /** Replaces what identifies a deleted person (address, name, profile, hash) with placeholders. */
  anonymise(userId: string): Promise<void>;
}

export interface NewUser {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly role: Role;
  readonly createdAt: Date;
}

/** The write transaction of the API: accounts and the outbox. */
export interface UsersTx {
  readonly users: UserStore;
  readonly outbox: OutboxWriter;
}

/** A message waiting in the mail queue (sent by the mail dispatcher, or shown by GET /users/me/mail). */
export interface QueuedMail {
  /** Stable: derived from the event that asked for it, so a redelivered event cannot queue it twice. */
  readonly id: string;
  readonly userId: string;
  readonly to: string;
  readonly kind: string;
  readonly subject: string;
  readonly text: string;
}

export interface StoredMail extends QueuedMail {
  readonly createdAt: Date;
  readonly sentAt: Date | null;
  readonly attempts: number;
  readonly lastError: string | null;
}

/** The mail queue: written in the handler's transaction, sent after it committed. */
export interface MailQueue {
  /** Queues `mail`; false when a mail with its id is already queued. */
  enqueue(mail: QueuedMail, at: Date): Promise<boolean>;
  forUser(userId: string, limit: number): Promise<StoredMail[]>;
}

/** The consumer group's transaction: the inbox, the accounts, and the user center's own records. */
export interface UserCenterTx extends InboxTx {
  readonly users: UserStore;
  readonly mail: MailQueue;
  readonly outbox: OutboxWriter;
  /** Default settings of a new account (idempotent). */
  createDefaultSettings(userId: string, at: Date): Promise<void>;
  /** Records a sign-in or a failed attempt under its event id (idempotent). */
  recordLogin(eventId: string, userId: string, attempt: LoginAttempt): Promise<void>;
  /** The account's attempts since `since`, newest first, at most `limit`. */
  loginHistory(userId: string, since: Date, limit: number): Promise<LoginAttempt[]>;
  recordAnomaly(eventId: string, userId: string, anomaly: Anomaly, at: Date): Promise<void>;
  /** Removes the login log and settings of a deleted account. */
  forgetActivity(userId: string): Promise<void>;
}

/** The hasher has more work queued than it takes: the caller should answer "try again shortly". */
export class HasherBusyError extends Error {
  override readonly name = "HasherBusyError";
}

/** Password hashing (argon2id). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Costs what a `verify` costs, for an address without an account: a failure takes the same time either way. */
  verifyNothing(password: string): Promise<void>;
  /** A hash made with weaker parameters than the current ones (it is upgraded at the next sign-in). */
  needsRehash(hash: string): boolean;
}

/** What a verified access token says. */
export interface TokenClaims {
  readonly userId: string;
  readonly role: Role;
  readonly tokenVersion: number;
}

/** Signs and verifies access tokens. */
export interface TokenService {
  issue(claims: TokenClaims): Promise<{ readonly token: string; readonly expiresIn: number }>;
  /** The claims of a valid token; undefined for a missing, malformed, tampered, expired or foreign one. */
  verify(token: string): Promise<TokenClaims | undefined>;
}

/** What the API checks on every authenticated request: is the account still allowed, with this token? */
export interface SessionState {
  readonly status: UserStatus;
  readonly role: Role;
  readonly tokenVersion: number;
}

/**
 * A short-lived cache of `SessionState` by user id. Every status or credential change bumps the token version
 * and writes the new state after its commit; `set` never replaces an entry of a newer version, so a read that
 * started before a change cannot put the old state back.
 */
export interface SessionCache {
  get(userId: string): Promise<SessionState | undefined>;
  /** Stores `state` unless the entry holds a newer token version. */
  set(userId: string, state: SessionState): Promise<void>;
  drop(userId: string): Promise<void>;
}

/**
 * Throttles sign-in attempts by account and by address. An attempt is spent before its password is checked,
 * in one atomic step per key, so concurrent attempts cannot all slip under the budget; a sign-in that
 * succeeds gives its attempts back.
 */
export interface LoginThrottle {
  /** Spends one attempt of each key; the seconds to wait when one is over its budget (refused), else 0. */
  take(keys: readonly string[]): Promise<number>;
  /** Gives back the attempt `key` spent (a success does not count against its address). */
  refund(key: string): Promise<void>;
  /** Forgets the attempts of `key` (an account after its successful sign-in). */
  reset(key: string): Promise<void>;
}
