/**
 * The `usercenter` consumer group's effects (seed 002's handler table), one handler per event type, each run
 * in the inbox's transaction: an event delivered twice has its effect once. Mail is queued in that transaction
 * and sent after it (see mail_dispatch.ts); notifications and analytics go out through the outbox.
 */
import { type AnomalyRules, detectAnomalies, type LoginAttempt } from "../../domain/usercenter/anomaly.ts";
import { type Envelope, payloadOf } from "../../outbox/envelope.ts";
import type { AfterCommit } from "../../outbox/dispatch.ts";
import type { Clock, Logger } from "../ports.ts";
import type { SessionCache, SessionState, UserCenterTx } from "./ports.ts";
import {
  userActivity,
  userDeleted,
  userEnvelope,
  userLoggedIn,
  userLoginFailed,
  userNotification,
  userPasswordChanged,
  userRegistered,
  userStatusChanged,
  userUpdated,
} from "./user_events.ts";

export interface HandlerDeps {
  readonly sessions: SessionCache;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly topics: { readonly notifications: string; readonly analytics: string };
  readonly anomalyRules: AnomalyRules;
  /** How far back a sign-in is compared with earlier ones. */
  readonly historyDays: number;
  /** Product name in mail subjects. */
  readonly productName: string;
}

type Handler = (events: readonly Envelope[], tx: UserCenterTx) => Promise<void | AfterCommit>;

/** Handlers by event type. */
export function userCenterHandlers(deps: HandlerDeps): Record<string, Handler> {
  const notify = (
    tx: UserCenterTx,
    event: Envelope,
    userId: string,
    kind: "welcome" | "security-notice" | "status-changed" | "account-deleted" | "login-anomaly",
    detail: string,
  ) =>
    tx.outbox.append(deps.topics.notifications, [
      userEnvelope(userNotification, userId, { userId, kind, detail, at: event.occurredAt }, event.headers),
    ]);
  const track = (
    tx: UserCenterTx,
    event: Envelope,
    userId: string,
    activity: string,
    attributes: Record<string, string> = {},
  ) =>
    tx.outbox.append(deps.topics.analytics, [
      userEnvelope(
        userActivity,
        userId,
        { userId, activity, at: event.occurredAt, attributes },
        event.headers,
      ),
    ]);
  const mail = (
    tx: UserCenterTx,
    event: Envelope,
    message: { userId: string; to: string; kind: string; subject: string; text: string },
  ) => tx.mail.enqueue({ id: `${event.eventId}.${message.kind}`, ...message }, deps.clock.now());
  /** After the commit, the session cache gets the account as this transaction read it (never an older one). */
  const refreshSessions = async (tx: UserCenterTx, userIds: readonly string[]): Promise<AfterCommit> => {
    const states: [string, SessionState][] = [];
    for (const userId of new Set(userIds)) {
      const user = await tx.users.byId(userId);
      if (user) {
        states.push([userId, { status: user.status, role: user.role, tokenVersion: user.tokenVersion }]);
      }
    }
    return async () => {
      for (const [userId, state] of states) {
        await deps.sessions.set(userId, state).catch((error) =>
          deps.logger.warn("session cache update failed", { userId, error: String(error) })
        );
      }
    };
  };

  const loginAttempt = async (tx: UserCenterTx, event: Envelope, succeeded: boolean) => {
    const payload = payloadOf(event, succeeded ? userLoggedIn : userLoginFailed);
    const attempt: LoginAttempt = {
      succeeded,
      address: payload.address,
      userAgent: payload.userAgent,
      at: new Date(payload.at),
    };
    // A sign-in of an account deleted since (its event came after the deletion's) leaves no trace.
    const account = await tx.users.byId(payload.userId);
    if (!account || account.status === "deleted") return;
    const since = new Date(attempt.at.getTime() - deps.historyDays * 86_400_000);
    const history = await tx.loginHistory(payload.userId, since, 200);
    await tx.recordLogin(event.eventId, payload.userId, attempt);
    if (succeeded) await tx.users.touchLastLogin(payload.userId, attempt.at);
    const anomalies = detectAnomalies(attempt, history, deps.anomalyRules);
    for (const anomaly of anomalies) {
      await tx.recordAnomaly(event.eventId, payload.userId, anomaly, attempt.at);
      await notify(tx, event, payload.userId, "login-anomaly", `${anomaly.kind}: ${anomaly.detail}`);
      deps.logger.info("login anomaly", { userId: payload.userId, kind: anomaly.kind });
    }
    await track(tx, event, payload.userId, succeeded ? "logged-in" : "login-failed");
  };

  return {
    [userRegistered.eventType]: async (events, tx) => {
      for (const event of events) {
        const p = payloadOf(event, userRegistered);
        await mail(tx, event, {
          userId: p.userId,
          to: p.email,
          kind: "welcome",
          subject: `Welcome to ${deps.productName}, ${p.username}`,
          text: `Hello ${p.username},\n\nyour account is ready. Sign in with ${p.email}.\n`,
        });
        await tx.createDefaultSettings(p.userId, new Date(p.at));
        await notify(tx, event, p.userId, "welcome", "account created");
        await track(tx, event, p.userId, "registered");
      }
    },
    [userLoggedIn.eventType]: async (events, tx) => {
      for (const event of events) await loginAttempt(tx, event, true);
    },
    [userLoginFailed.eventType]: async (events, tx) => {
      for (const event of events) await loginAttempt(tx, event, false);
    },
    [userPasswordChanged.eventType]: async (events, tx) => {
      for (const event of events) {
        const p = payloadOf(event, userPasswordChanged);
        const user = await tx.users.byId(p.userId);
        if (user && user.status !== "deleted") {
          await mail(tx, event, {
            userId: p.userId,
            to: user.email,
            kind: "password-changed",
            subject: `Your ${deps.productName} password was changed`,
            text: `Hello ${user.username},\n\nthe password of your account was changed at ${p.at}.\n` +
              "If this was not you, contact support at once: your other sessions have been signed out.\n",
          });
        }
        await notify(tx, event, p.userId, "security-notice", "password changed");
        await track(tx, event, p.userId, "password-changed");
      }
      return refreshSessions(tx, events.map((e) => payloadOf(e, userPasswordChanged).userId));
    },
    [userStatusChanged.eventType]: async (events, tx) => {
      for (const event of events) {
        const p = payloadOf(event, userStatusChanged);
        const user = await tx.users.byId(p.userId);
        if (user && user.status !== "deleted") {
          await mail(tx, event, {
            userId: p.userId,
            to: user.email,
            kind: `status-${p.to}`,
            subject: p.to === "suspended"
              ? `Your ${deps.productName} account is suspended`
              : `Your ${deps.productName} account is active again`,
            text: `Hello ${user.username},\n\nyour account is now ${p.to}.\n`,
          });
        }
        await notify(tx, event, p.userId, "status-changed", `${p.from} -> ${p.to}`);
        await track(tx, event, p.userId, "status-changed", { from: p.from, to: p.to });
      }
      // The API wrote the entry already; writing it again covers a write of the API that failed.
      return refreshSessions(tx, events.map((e) => payloadOf(e, userStatusChanged).userId));
    },
    [userDeleted.eventType]: async (events, tx) => {
      for (const event of events) {
        const p = payloadOf(event, userDeleted);
        const user = await tx.users.byId(p.userId);
        if (user && !isAnonymised(user.email)) {
          await mail(tx, event, {
            userId: p.userId,
            to: user.email,
            kind: "account-deleted",
            subject: `Your ${deps.productName} account was deleted`,
            text:
              `Hello ${user.username},\n\nyour account was deleted at ${p.at}; its personal data is erased.\n`,
          });
        }
        await tx.forgetActivity(p.userId);
        await tx.users.anonymise(p.userId);
        await notify(tx, event, p.userId, "account-deleted", "account deleted");
        await track(tx, event, p.userId, "deleted");
      }
      return refreshSessions(tx, events.map((e) => payloadOf(e, userDeleted).userId));
    },
    [userUpdated.eventType]: async (events, tx) => {
      for (const event of events) {
        const p = payloadOf(event, userUpdated);
        // External sync: systems that mirror accounts follow `user.analytics` (no address, no password).
        await track(tx, event, p.userId, "profile-updated", { changed: p.changed.join(",") });
      }
      return refreshSessions(tx, events.map((e) => payloadOf(e, userUpdated).userId));
    },
  };
}

/** Whether the account's data was already replaced by placeholders (a redelivered deletion). */
function isAnonymised(email: string): boolean {
  return email.startsWith("~deleted~");
}
