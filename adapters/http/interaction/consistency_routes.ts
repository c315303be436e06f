/**
 * Operator routes of the like cache's consistency check (seed 004): `GET /report?hours=24` and
 * `POST /check {"resource_type":"video","resource_id":123}`. Mount them at `/consistency` behind the operator
 * middleware: they authenticate nobody themselves.
 */
import { Hono } from "hono";
import { z } from "zod";
import { targetTypes } from "../../../domain/interaction/like.ts";
import { parseId } from "../../../domain/shared/id.ts";
import type { LikeConsistencyChecker } from "../../../application/interaction/consistency.ts";
import { problem } from "../problem.ts";

/** What the consistency routes need. */
export interface ConsistencyRoutesDeps {
  readonly checker: Pick<LikeConsistencyChecker, "checkOne" | "report">;
}

const hoursQuery = z.string().regex(/^[0-9]+$/, "must be a whole number").transform(Number)
  .pipe(z.number().min(1).max(720)).default(24);

const checkBody = z.object({
  resource_type: z.enum(targetTypes),
  resource_id: z.union([z.string(), z.number()]),
}).strict();

/** Throws a 400 validation problem listing the issues. */
function invalid(title: string, error: z.ZodError): never {
  problem(400, "validation", title, z.prettifyError(error), {
    errors: error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
  });
}

/** The consistency routes. */
export function consistencyRoutes(deps: ConsistencyRoutesDeps): Hono {
  const app = new Hono();

  // Rounds, targets compared, inconsistencies found and fixed by kind, and the latest findings.
  app.get("/report", async (c) => {
    const hours = hoursQuery.safeParse(c.req.query("hours"));
    if (!hours.success) invalid("invalid report request: hours must be 1..720", hours.error);
    return c.json(await deps.checker.report(hours.data));
  });

  // Checks one target now (repairing it unless auto-fix is off): its findings, the cache before and after.
  app.post("/check", async (c) => {
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      problem(400, "malformed-json", "malformed JSON", "the request body is not valid JSON");
    }
    const body = checkBody.safeParse(json);
    if (!body.success) invalid("invalid check request", body.error);
    const id = parseId(body.data.resource_id);
    if (!id) {
      problem(
        400,
        "invalid-id",
        "invalid id",
        `resource_id must be a positive 64-bit integer, got "${body.data.resource_id}"`,
      );
    }
    return c.json(await deps.checker.checkOne({ type: body.data.resource_type, id }));
  });

  return app;
}
