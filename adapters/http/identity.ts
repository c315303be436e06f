/**
 * Who is asking: the authenticated-user slot every context's routes read. An `Authenticator` fills it once
 * per request; today's reads the X-User-Id header, the user center's will verify a token instead.
 */
import type { Context, MiddlewareHandler } from "hono";
import { parseId } from "../../domain/shared/id.ts";
import { problem } from "./problem.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The authenticated user's id, or undefined for an anonymous request. */
    userId: string | undefined;
    /** This request's id (yours if you sent a valid X-Request-Id). */
    requestId: string;
  }
}

/** Finds the user a request speaks for; throws a problem (401/400) for credentials that do not hold. */
export interface Authenticator {
  authenticate(c: Context): Promise<string | undefined> | string | undefined;
}

/** The X-User-Id header as the identity (until the user center brings real authentication). */
export const headerAuthenticator: Authenticator = {
  authenticate(c) {
    const raw = c.req.header("x-user-id");
    if (raw === undefined || raw === "") return undefined;
    const userId = parseId(raw);
    if (!userId) {
      problem(
        400,
        "invalid-user-id",
        "invalid user id",
        `X-User-Id must be a positive integer, got "${raw}"`,
      );
    }
    return userId;
  },
};

/** Middleware filling the slot; anonymous requests pass (routes that need a user call `currentUser`). */
export function identify(authenticator: Authenticator = headerAuthenticator): MiddlewareHandler {
  return async (c, next) => {
    c.set("userId", await authenticator.authenticate(c));
    await next();
  };
}

/** The authenticated user; a 401 problem when the request has none. */
export function currentUser(c: Context): string {
  const userId = c.get("userId");
  if (userId === undefined) {
    problem(401, "unauthenticated", "authentication required", "send the user id in the X-User-Id header");
  }
  return userId;
}

/** The authenticated user, or undefined for an anonymous request. */
export function optionalUser(c: Context): string | undefined {
  return c.get("userId");
}
