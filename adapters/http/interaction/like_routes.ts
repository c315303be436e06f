/** HTTP routes of likes: `/videos/:id/likes`, `/comments/:id/likes`, and the seed-style `POST /likes`. */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import {
  LikeAction,
  type LikeActionCode,
  type LikeTarget,
  type TargetType,
  targetTypes,
} from "../../../domain/interaction/like.ts";
import { parseId } from "../../../domain/shared/id.ts";
import { getLikeStatus, type GetLikeStatusDeps } from "../../../application/interaction/get_like_status.ts";
import { setLike, type SetLikeDeps } from "../../../application/interaction/set_like.ts";
import { currentUser, optionalUser } from "../identity.ts";
import { problem } from "../problem.ts";
import { jsonBody } from "../validation.ts";
import { traceHeaders } from "../trace.ts";

/** What the like routes need. */
export type LikeRoutesDeps = SetLikeDeps & GetLikeStatusDeps;

const likeBody = z.object({
  targetType: z.enum(targetTypes),
  targetId: z.union([z.string(), z.number()]),
  action: z.union([z.literal(LikeAction.like), z.literal(LikeAction.unlike)]),
}).strict();

function targetFrom(type: TargetType, rawId: unknown): LikeTarget {
  const id = parseId(rawId);
  if (!id) {
    problem(400, "invalid-id", "invalid id", `${type} id must be a positive 64-bit integer, got "${rawId}"`);
  }
  return { type, id };
}

/** HTTP options of the like routes. */
export interface LikeRoutesOptions {
  /** Runs before every like and unlike, e.g. the per-user rate limit (default: none). */
  readonly writeLimit?: MiddlewareHandler;
}

/** The like routes. */
export function likeRoutes(deps: LikeRoutesDeps, options: LikeRoutesOptions = {}): Hono {
  const app = new Hono();
  const writeLimit: MiddlewareHandler = options.writeLimit ?? (async (_c, next) => await next());

  // Only the documented paths, one per target type (`/videos/:id/likes`, `/comments/:id/likes`): another
  // word, a singular one included, is an unknown route (404).
  for (const type of targetTypes) {
    const path = `/${type}s/:targetId/likes`;
    const change = (action: LikeActionCode) => async (c: Context) => {
      const userId = currentUser(c);
      const target = targetFrom(type, c.req.param("targetId"));
      const result = await setLike(deps, { userId, target, action, headers: traceHeaders(c) });
      return c.json({ ...result, target });
    };
    app.get(path, async (c) => {
      const target = targetFrom(type, c.req.param("targetId"));
      return c.json(await getLikeStatus(deps, { target, userId: optionalUser(c) }));
    });
    app.post(path, writeLimit, change(LikeAction.like));
    app.delete(path, writeLimit, change(LikeAction.unlike));
  }

  app.post("/likes", writeLimit, async (c) => {
    const userId = currentUser(c);
    const body = await jsonBody(c, likeBody, "invalid like request");
    const target = targetFrom(body.targetType, body.targetId);
    const result = await setLike(deps, {
      userId,
      target,
      action: body.action,
      headers: traceHeaders(c),
    });
    return c.json({ ...result, target });
  });

  return app;
}
