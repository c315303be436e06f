/** Validation at the edge: a request body or query checked by a zod schema, or a 400 problem naming each field. */
import type { Context } from "hono";
import { z } from "zod";
import { problem } from "./problem.ts";

/** Throws a 400 `validation` problem listing each failing field. */
export function invalid(title: string, error: z.ZodError): never {
  problem(400, "validation", title, z.prettifyError(error), {
    // `field` as the use cases name it; `path` kept for clients of the earlier shape.
    errors: error.issues.map((issue) => {
      const path = issue.path.join(".");
      return { field: path, path, message: issue.message };
    }),
  });
}

/** `value` checked by `schema`; a 400 problem titled `title` when it does not fit. */
export function validated<S extends z.ZodType>(schema: S, value: unknown, title: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) invalid(title, parsed.error);
  return parsed.data;
}

/** The JSON body checked by `schema`: 400 `malformed-json` when it is not JSON, 400 `validation` when it does not fit. */
export async function jsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  title: string,
): Promise<z.infer<S>> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    problem(400, "malformed-json", "malformed JSON", "the request body is not valid JSON");
  }
  return validated(schema, json, title);
}
