/**
 * The user center's events on `user.events` (seed 002), keyed by user id so one account's events keep their
 * order, and the derived ones on `user.notifications` and `user.analytics`. No payload carries a password or
 * its hash.
 */
import { z } from "zod";
import { roles, type UserFact, userStatuses } from "../../domain/usercenter/account.ts";
import { parseId } from "../../domain/shared/id.ts";
import { createEnvelope, type Envelope, type EventDefinition } from "../../outbox/envelope.ts";

const id = z.string().refine((value) => parseId(value) === value, "must be a positive 64-bit integer");
const at = z.iso.datetime({ offset: true });

function definition<P>(eventType: string, payload: z.ZodType<P>): EventDefinition<P> {
  return { eventType, version: 1, payload };
}

export const userRegistered = definition(
  "user.registered",
  z.object({ userId: id, username: z.string(), email: z.string(), role: z.enum(roles), at }),
);
export const userLoggedIn = definition(
  "user.logged_in",
  z.object({ userId: id, address: z.string(), userAgent: z.string(), at }),
);
/** Not in the seed's table: a failed sign-in of an existing account, for the anomaly detection. */
export const userLoginFailed = definition(
  "user.login_failed",
  z.object({ userId: id, address: z.string(), userAgent: z.string(), at }),
);
export const userPasswordChanged = definition("user.password_changed", z.object({ userId: id, at }));
export const userStatusChanged = definition(
  "user.status_changed",
  z.object({ userId: id, from: z.enum(userStatuses), to: z.enum(userStatuses), at }),
);
export const userDeleted = definition("user.deleted", z.object({ userId: id, at }));
export const userUpdated = definition(
  "user.updated",
  z.object({
    userId: id,
    changed: z.array(z.string()),
    username: z.string(),
    profile: z.object({ displayName: z.string().nullish(), bio: z.string().nullish() }),
    at,
  }),
);

/** A notification another service may deliver (push, SMS); the mail itself is sent by the user center. */
export const userNotification = definition(
  "user.notification",
  z.object({
    userId: id,
    kind: z.enum(["welcome", "security-notice", "status-changed", "account-deleted", "login-anomaly"]),
    detail: z.string(),
    at,
  }),
);
/** What happened, without personal data: for analytics and the external systems that mirror accounts. */
export const userActivity = definition(
  "user.activity",
  z.object({
    userId: id,
    activity: z.string(),
    at,
    attributes: z.record(z.string(), z.string()).default({}),
  }),
);

/** An event about one user, keyed by the user's id. */
export function userEnvelope<P>(
  definition: EventDefinition<P>,
  userId: string,
  payload: P,
  headers: Readonly<Record<string, string>> = {},
): Envelope<P> {
  return createEnvelope({
    eventType: definition.eventType,
    version: definition.version,
    aggregateType: "user",
    aggregateId: userId,
    payload,
    headers,
  });
}

/** The event of a domain fact. */
export function factEnvelope(fact: UserFact, headers: Readonly<Record<string, string>> = {}): Envelope {
  const when = fact.at.toISOString();
  switch (fact.kind) {
    case "registered":
      return userEnvelope(userRegistered, fact.userId, {
        userId: fact.userId,
        username: fact.username,
        email: fact.email,
        role: fact.role,
        at: when,
      }, headers);
    case "updated":
      return userEnvelope(userUpdated, fact.userId, {
        userId: fact.userId,
        changed: [...fact.changed],
        username: fact.username,
        profile: fact.profile,
        at: when,
      }, headers);
    case "password-changed":
      return userEnvelope(userPasswordChanged, fact.userId, { userId: fact.userId, at: when }, headers);
    case "status-changed":
      return userEnvelope(
        userStatusChanged,
        fact.userId,
        { userId: fact.userId, from: fact.from, to: fact.to, at: when },
        headers,
      );
    case "deleted":
      return userEnvelope(userDeleted, fact.userId, { userId: fact.userId, at: when }, headers);
  }
}
