/** Trace context that follows a request into its events: the request id and W3C `traceparent`. */
import type { Context } from "hono";
import { problem } from "./problem.ts";

// W3C Trace Context: version-traceid-parentid-flags, lower-case hex; version ff and all-zero ids are invalid.
const traceparentPattern = /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Headers carried into the request's events; a malformed `traceparent` is a 400 problem. */
export function traceHeaders(c: Context): Record<string, string> {
  const headers: Record<string, string> = { "x-request-id": c.get("requestId") };
  const traceparent = c.req.header("traceparent");
  if (traceparent !== undefined) {
    if (!traceparentPattern.test(traceparent)) {
      problem(
        400,
        "invalid-traceparent",
        "invalid traceparent",
        "traceparent must follow W3C Trace Context: 00-<32 hex>-<16 hex>-<2 hex>",
      );
    }
    headers.traceparent = traceparent;
  }
  return headers;
}
