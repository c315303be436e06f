/**
 * Who is asking: the identity slot every context's routes read. The `Authenticator` fills it once per request
 * from `Authorization: Bearer <token>`: a user's access token (verified by the user center) or the operator
 * token. No header means an anonymous request; a header that does not hold is a 401 at once. No header the
 * client chooses (X-User-Id included) is taken as an identity.
 */
import type { Context, MiddlewareHandler } from "hono";
import { problem } from "./problem.ts";

/** A verified caller: a user (with their role), or the operator (an administrator acting for no user). */
export interface Identity {
  readonly userId?: string;
  readonly role: "user" | "admin";
}

declare module "hono" {
  interface ContextVariableMap {
    /** The verified caller, or undefined for an anonymous request. */
    identity: Identity | undefined;
    /** Why the credentials sent do not hold (thrown by the routes that read the caller). */
    authRefusal: unknown;
    /** This request's id (yours if you sent a valid X-Request-Id). */
    requestId: string;
  }
}

/** Finds the caller of a request; throws a 401 problem for credentials that do not hold. */
export interface Authenticator {
  authenticate(c: Context): Promise<Identity | undefined>;
}

/** Verifies a user's access token: the user it speaks for, or undefined when it does not hold. */
export type TokenVerifier = (token: string) => Promise<Identity | undefined>;

const utf8 = new TextEncoder();

/** Compares in time independent of where the first difference is. */
export function sameSecret(given: string, expected: string): boolean {
  const [a, b] = [utf8.encode(given), utf8.encode(expected)];
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i];
  return difference === 0;
}

function unauthenticated(detail: string): never {
  problem(401, "unauthenticated", "authentication required", detail, {}, {
    "www-authenticate": 'Bearer realm="api"',
  });
}

/** Bearer tokens: the operator token (when configured), else a user's access token checked by `verify`. */
export function bearerAuthenticator(
  options: { readonly verify?: TokenVerifier; readonly operatorToken?: string },
): Authenticator {
  return {
    async authenticate(c) {
      // A browser cannot set headers on a WebSocket: its upgrade request may carry the token as ?access_token=.
      const queryToken = c.req.header("upgrade")?.toLowerCase() === "websocket"
        ? c.req.query("access_token")
        : undefined;
      const header = c.req.header("authorization") ?? (queryToken ? `Bearer ${queryToken}` : undefined);
      if (header === undefined || header === "") return undefined;
      const match = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i.exec(header);
      if (!match) unauthenticated("send Authorization: Bearer <access token>");
      const token = match[1];
      if (options.operatorToken !== undefined && sameSecret(token, options.operatorToken)) {
        return { role: "admin" };
      }
      const identity = options.verify ? await options.verify(token) : undefined;
      if (!identity) {
        unauthenticated("the access token is malformed, expired, revoked or not signed by this service");
      }
      return identity;
    },
  };
}

/** Nobody but the operator (when configured): for an API built without the user center. */
export const anonymousOnly: Authenticator = bearerAuthenticator({});

/**
 * Middleware filling the slot. Credentials that do not hold are refused (401) by the routes that read the
 * caller, not by the public ones: signing in with an expired token still in the header works.
 */
export function identify(authenticator: Authenticator = anonymousOnly): MiddlewareHandler {
  return async (c, next) => {
    try {
      c.set("identity", await authenticator.authenticate(c));
    } catch (refusal) {
      c.set("identity", undefined);
      c.set("authRefusal", refusal);
    }
    await next();
  };
}

/** The verified caller, or undefined when anonymous; throws the 401 when the credentials sent do not hold. */
function caller(c: Context): Identity | undefined {
  const refusal = c.get("authRefusal");
  if (refusal !== undefined) throw refusal;
  return c.get("identity");
}

/** The authenticated user's id; a 401 problem when the request has none. */
export function currentUser(c: Context): string {
  const identity = caller(c);
  if (identity === undefined) {
    unauthenticated("sign in (POST /users/login) and send Authorization: Bearer <token>");
  }
  if (identity.userId === undefined) {
    problem(403, "not-a-user", "the operator token does not act for a user", "sign in as a user for this");
  }
  return identity.userId;
}

/** The authenticated user's id, or undefined for an anonymous request (or the operator). */
export function optionalUser(c: Context): string | undefined {
  return caller(c)?.userId;
}

/** Middleware admitting administrators only: 401 without credentials, 403 for another role. */
export const requireAdmin: MiddlewareHandler = async (c, next) => {
  const identity = caller(c);
  if (identity === undefined) unauthenticated("an administrator's access token is required");
  if (identity.role !== "admin") problem(403, "forbidden", "administrators only", "your role is not admin");
  await next();
};
