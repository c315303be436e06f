/** RFC 9457 problem details: every error the API returns has this shape. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { EventTooLargeError } from "../../outbox/errors.ts";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** A problem body. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly [extension: string]: unknown;
}

/** Throws a problem response from anywhere in a handler. */
export function problem(
  status: ContentfulStatusCode,
  slug: string,
  title: string,
  detail?: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): never {
  const body: Problem = {
    type: `urn:problem:${slug}`,
    title,
    status,
    ...(detail ? { detail } : {}),
    ...extensions,
  };
  throw new HTTPException(status, {
    res: new Response(JSON.stringify(body), {
      status,
      headers: { ...headers, "content-type": "application/problem+json" },
    }),
  });
}

/** Maps anything thrown to a problem response; unexpected errors become a 500 without internals. */
export function problemResponse(
  error: unknown,
  c: Context,
  onUnexpected: (error: unknown) => void,
): Response {
  if (error instanceof HTTPException) {
    const response = error.getResponse();
    if (response.headers.get("content-type")?.includes("problem+json")) return response;
    return c.body(
      JSON.stringify({
        type: "urn:problem:http",
        title: error.message || "request failed",
        status: error.status,
      }),
      error.status,
      { "content-type": "application/problem+json" },
    );
  }
  if (error instanceof EventTooLargeError) {
    return c.body(
      JSON.stringify({
        type: "urn:problem:event-too-large",
        title: "event too large",
        status: 413,
        detail: error.message,
      }),
      413,
      { "content-type": "application/problem+json" },
    );
  }
  onUnexpected(error);
  return c.body(
    JSON.stringify({ type: "urn:problem:internal", title: "internal error", status: 500 }),
    500,
    { "content-type": "application/problem+json" },
  );
}
