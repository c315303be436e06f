/**
 * Operator endpoints (consistency checks, cache operations) answer only to the configured operator token, sent
 * as `Authorization: Bearer <token>`. Without a configured token they are closed (403), never open by default.
 */
import type { MiddlewareHandler } from "hono";
import { problem } from "./problem.ts";

const utf8 = new TextEncoder();

/** Compares in time independent of where the first difference is. */
function sameSecret(given: string, expected: string): boolean {
  const [a, b] = [utf8.encode(given), utf8.encode(expected)];
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i];
  return difference === 0;
}

/** Middleware admitting only requests that carry `token`; 403 for all when no token is configured. */
export function requireOperator(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined) {
      problem(403, "operator-disabled", "operator endpoints disabled", "set OPERATOR_TOKEN to enable them");
    }
    const header = c.req.header("authorization") ?? "";
    const given = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
    if (given === undefined) {
      problem(
        401,
        "operator-unauthenticated",
        "operator token required",
        "send Authorization: Bearer <token>",
      );
    }
    if (!sameSecret(given, token)) problem(403, "operator-forbidden", "wrong operator token");
    await next();
  };
}
