/** `GET /chat/audit?senderId=&conversationId=&limit=`: the chat audit log, for administrators (mount behind `requireAdmin`). */
import { Hono } from "hono";
import { z } from "zod";
import type { AuditLog } from "../../../application/chat/ports.ts";
import { validated } from "../validation.ts";

const auditQuery = z.object({
  senderId: z.string().regex(/^[1-9][0-9]{0,18}$/, "a user id").optional(),
  conversationId: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export function auditRoutes(deps: { readonly audit: AuditLog }): Hono {
  return new Hono().get("/", async (c) => {
    const query = validated(auditQuery, c.req.query(), "invalid audit query");
    const records = await deps.audit.query(query);
    return c.json({ items: records.map((r) => ({ ...r, sentAt: r.sentAt.toISOString() })) });
  });
}
