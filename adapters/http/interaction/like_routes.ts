/** HTTP routes of likes: `/videos/:id/likes`, `/comments/:id/likes`, and the seed-style `POST /likes`. */
import { Hono } from "hono";
import { z } from "zod";
import {
  LikeAction,
  type LikeActionCode,
  type LikeTarget,
  parseTargetType,
  targetTypes,
} from "../../../domain/interaction/like.ts";
import { parseId } from "../../../domain/shared/id.ts";
import { getLikeStatus, type GetLikeStatusDeps } from "../../../application/interaction/get_like_status.ts";
import { setLike, type SetLikeDeps } from "../../../application/interaction/set_like.ts";
import { currentUser, optionalUser } from "../identity.ts";
import { problem } from "../problem.ts";
import { traceHeaders } from "../trace.ts";

/** What the like routes need. */
export type LikeRoutesDeps = SetLikeDeps & GetLikeStatusDeps;

const likeBody = z.object({
  targetType: z.enum(targetTypes),
  targetId: z.union([z.string(), z.number()]),
  action: z.union([z.literal(LikeAction.like), z.literal(LikeAction.unlike)]),
}).strict();

function targetFrom(rawType: string, rawId: unknown): LikeTarget {
  const type = parseTargetType(rawType);
  if (!type) {
    problem(
      404,
      "unknown-target-type",
      "unknown target type",
      `"${rawType}" cannot be liked; use videos or comments`,
    );
  }
  const id = parseId(rawId);
  if (!id) {
    problem(400, "invalid-id", "invalid id", `${type} id must be a positive 64-bit integer, got "${rawId}"`);
  }
  return { type, id };
}

/** The like routes. */
export function likeRoutes(deps: LikeRoutesDeps): Hono {
  const app = new Hono();

  const change = (action: LikeActionCode) => async (c: import("hono").Context) => {
    const userId = currentUser(c);
    const target = targetFrom(c.req.param("targetType")!, c.req.param("targetId"));
    const result = await setLike(deps, { userId, target, action, headers: traceHeaders(c) });
    return c.json({ ...result, target });
  };

  app.get("/:targetType/:targetId/likes", async (c) => {
    const target = targetFrom(c.req.param("targetType"), c.req.param("targetId"));
    return c.json(await getLikeStatus(deps, { target, userId: optionalUser(c) }));
  });
  app.post("/:targetType/:targetId/likes", change(LikeAction.like));
  app.delete("/:targetType/:targetId/likes", change(LikeAction.unlike));

  app.post("/likes", async (c) => {
    const userId = currentUser(c);
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      problem(400, "malformed-json", "malformed JSON", "the request body is not valid JSON");
    }
    const parsed = likeBody.safeParse(json);
    if (!parsed.success) {
      problem(400, "validation", "invalid like request", z.prettifyError(parsed.error), {
        errors: parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
      });
    }
    const target = targetFrom(parsed.data.targetType, parsed.data.targetId);
    const result = await setLike(deps, {
      userId,
      target,
      action: parsed.data.action,
      headers: traceHeaders(c),
    });
    return c.json({ ...result, target });
  });

  return app;
}
