/**
 * HTTP routes of the user center (mounted at /users): register, login, the caller's own account, its mail, and
 * the administrators' status change. Bodies are checked at the edge; every refusal is a problem body.
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import {
  AccountRefusal,
  type AccountsDeps,
  changePassword,
  changeStatus,
  deleteAccount,
  login,
  me,
  register,
  updateProfile,
} from "../../../application/usercenter/accounts.ts";
import { HasherBusyError, type MailQueue } from "../../../application/usercenter/ports.ts";
import { parseId } from "../../../domain/shared/id.ts";
import { currentUser, requireAdmin } from "../identity.ts";
import { problem } from "../problem.ts";
import { traceHeaders } from "../trace.ts";
import { jsonBody } from "../validation.ts";

export interface UserRoutesDeps extends AccountsDeps {
  readonly mail: Pick<MailQueue, "forUser">;
}

export interface UserRoutesOptions {
  /**
   * Take the client's address from X-Forwarded-For: its last entry, the one the proxy in front of the API added
   * (the entries before it are whatever the client sent). Only behind one proxy that appends it.
   */
  readonly trustForwardedFor: boolean;
}

// Bounds at the edge keep hashing and storage costs in check; the rules proper are the domain's.
const text = (max: number) =>
  z.string().max(max, `at most ${max} characters`).refine(
    (value) => !value.includes("\u0000"),
    "must not contain NUL",
  );
const registerBody = z.object({ username: text(64), email: text(320), password: text(1024) }).strict();
const loginBody = z.object({ email: text(320), password: text(1024) }).strict();
const profileBody = z.object({
  username: text(64).optional(),
  displayName: text(100).nullable().optional(),
  bio: text(1000).nullable().optional(),
}).strict().refine((body) => Object.keys(body).length > 0, "give at least one of username, displayName, bio");
const passwordBody = z.object({ currentPassword: text(1024), newPassword: text(1024) }).strict();
const statusBody = z.object({ status: z.enum(["active", "suspended"]) }).strict();

/** The address a request came from. */
function clientAddress(c: Context, options: UserRoutesOptions): string {
  if (options.trustForwardedFor) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim();
    if (forwarded) return forwarded.slice(0, 100);
  }
  const remote = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
  return remote?.hostname ?? "unknown";
}

function requestContext(c: Context, options: UserRoutesOptions) {
  return {
    address: clientAddress(c, options),
    userAgent: (c.req.header("user-agent") ?? "").slice(0, 300),
    headers: traceHeaders(c),
  };
}

/** Runs a use case, turning its refusals into problem bodies. */
async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HasherBusyError) {
      return problem(503, "busy", "too many sign-ins at once", "try again in a second", {}, {
        "retry-after": "1",
      });
    }
    if (!(error instanceof AccountRefusal)) throw error;
    const { code, message, details } = error;
    switch (code) {
      case "invalid":
        return problem(400, "validation", "invalid request", message, { errors: details.errors ?? [] });
      case "email-taken":
      case "username-taken":
        return problem(409, code, message);
      case "invalid-credentials":
        // The same body whether the address has an account or not.
        return problem(401, "invalid-credentials", "invalid credentials", message);
      case "throttled": {
        const seconds = details.retryAfterSeconds ?? 60;
        return problem(429, "login-throttled", "too many failed sign-ins", message, {}, {
          "retry-after": String(seconds),
        });
      }
      case "suspended":
        return problem(403, "account-suspended", "account suspended", message);
      case "not-found":
        return problem(404, "user-not-found", "no such account", message);
      case "own-status":
        return problem(409, "own-status", message);
    }
  }
}

/** The user center's routes, to mount at /users. */
export function userRoutes(deps: UserRoutesDeps, options: UserRoutesOptions): Hono {
  const app = new Hono();

  app.post("/register", async (c) => {
    const body = await jsonBody(c, registerBody, "invalid registration");
    const account = await answer(() => register(deps, body, { headers: traceHeaders(c) }));
    return c.json({ id: account.id, username: account.username, email: account.email }, 201, {
      location: "/users/me",
    });
  });

  app.post("/login", async (c) => {
    const body = await jsonBody(c, loginBody, "invalid login");
    return c.json(await answer(() => login(deps, body, requestContext(c, options))), 200, {
      "cache-control": "no-store",
    });
  });

  app.get("/me", async (c) => c.json(await answer(() => me(deps, currentUser(c)))));

  app.patch("/me", async (c) => {
    const userId = currentUser(c);
    const body = await jsonBody(c, profileBody, "invalid profile");
    return c.json(await answer(() => updateProfile(deps, userId, body, { headers: traceHeaders(c) })));
  });

  app.post("/me/password", async (c) => {
    const userId = currentUser(c);
    const body = await jsonBody(c, passwordBody, "invalid password change");
    return c.json(await answer(() => changePassword(deps, userId, body, requestContext(c, options))), 200, {
      "cache-control": "no-store",
    });
  });

  app.delete("/me", async (c) => {
    const userId = currentUser(c);
    await answer(() => deleteAccount(deps, userId, { headers: traceHeaders(c) }));
    return c.body(null, 204);
  });

  app.get("/me/mail", async (c) => {
    const userId = currentUser(c);
    const items = await deps.mail.forUser(userId, 50);
    return c.json({
      items: items.map((m) => ({
        id: m.id,
        kind: m.kind,
        to: m.to,
        subject: m.subject,
        text: m.text,
        createdAt: m.createdAt.toISOString(),
        sentAt: m.sentAt?.toISOString() ?? null,
      })),
    });
  });

  app.patch("/:id/status", requireAdmin, async (c) => {
    const raw = c.req.param("id");
    const userId = parseId(raw);
    if (!userId) {
      problem(400, "invalid-id", "invalid id", `user id must be a positive 64-bit integer, got "${raw}"`);
    }
    const body = await jsonBody(c, statusBody, "invalid status change");
    const by = c.get("identity")?.userId;
    return c.json(
      await answer(() => changeStatus(deps, by, userId, body.status, { headers: traceHeaders(c) })),
    );
  });

  return app;
}
