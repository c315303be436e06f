/** Who is asking and how to trace the request. */
import type { Context } from "hono";
import { parseId } from "../../domain/interaction/like.ts";
import { problem } from "./problem.ts";

/** The authenticated user id; for now the `X-User-Id` header (authentication replaces it later). */
export function currentUser(c: Context): string {
  const raw = c.req.header("x-user-id");
  if (raw === undefined || raw === "") {
    problem(401, "unauthenticated", "authentication required", "send the user id in the X-User-Id header");
  }
  const userId = parseId(raw);
  if (!userId) {
    problem(400, "invalid-user-id", "invalid user id", `X-User-Id must be a positive integer, got "${raw}"`);
  }
  return userId;
}

/** Headers that follow the request into its events: request id and W3C trace context. */
export function traceHeaders(c: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  const requestId = c.get("requestId" as never) as string | undefined;
  if (requestId) headers["x-request-id"] = requestId;
  const traceparent = c.req.header("traceparent");
  if (traceparent) headers.traceparent = traceparent;
  return headers;
}
