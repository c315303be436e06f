/**
 * Administrators' routes of the like cache's consistency check (seed 004): `GET /report?hours=24` and
 * `POST /check {"resource_type":"video","resource_id":123}`. Mount them at `/consistency` behind
 * `requireAdmin`: they authenticate nobody themselves.
 */
import { Hono } from "hono";
import { z } from "zod";
import { targetTypes } from "../../../domain/interaction/like.ts";
import { parseId } from "../../../domain/shared/id.ts";
import type { LikeConsistencyChecker } from "../../../application/interaction/consistency.ts";
import { problem } from "../problem.ts";
import { jsonBody, validated } from "../validation.ts";

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

/** The consistency routes. */
export function consistencyRoutes(deps: ConsistencyRoutesDeps): Hono {
  const app = new Hono();

  // Rounds, targets compared, inconsistencies found and fixed by kind, and the latest findings.
  app.get("/report", async (c) => {
    const hours = validated(hoursQuery, c.req.query("hours"), "invalid report request: hours must be 1..720");
    return c.json(await deps.checker.report(hours));
  });

  // Checks one target now (repairing it unless auto-fix is off): its findings, the cache before and after.
  app.post("/check", async (c) => {
    const body = await jsonBody(c, checkBody, "invalid check request");
    const id = parseId(body.resource_id);
    if (!id) {
      problem(
        400,
        "invalid-id",
        "invalid id",
        `resource_id must be a positive 64-bit integer, got "${body.resource_id}"`,
      );
    }
    return c.json(await deps.checker.checkOne({ type: body.resource_type, id }));
  });

  return app;
}
