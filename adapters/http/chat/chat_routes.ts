/**
 * HTTP routes of chat (mounted at /chat): send (202, publish only), a conversation's history with a keyset
 * cursor, the caller's conversations, and read markers. Only a conversation's participants reach it (403).
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { isGroupId } from "../../../domain/chat/conversation.ts";
import { changeMembers, conversationMembers, createGroup } from "../../../application/chat/groups.ts";
import { parseId } from "../../../domain/shared/id.ts";
import type { Groups, HistoryCursor, MessageStore, StoredMessage } from "../../../application/chat/ports.ts";
import {
  NotAMemberError,
  sendMessage,
  type SendMessageDeps,
  SendRefusal,
} from "../../../application/chat/send_message.ts";
import { currentUser } from "../identity.ts";
import { SocketHub } from "./hub.ts";
import { chatPage } from "./page.ts";
import { problem } from "../problem.ts";
import { traceHeaders } from "../trace.ts";
import { jsonBody, validated } from "../validation.ts";

export interface ChatRoutesDeps extends SendMessageDeps {
  readonly store: MessageStore;
  /** Group membership reads (outside a transaction). */
  readonly groups: Pick<Groups, "find">;
  /** The WebSockets of this process (live push). */
  readonly hub: SocketHub;
}

const sendFrame = z.object({
  type: z.literal("send"),
  to: z.union([z.string(), z.number()]),
  content: z.string().max(20_000),
  clientMessageId: z.string().min(1).max(100).regex(/^[A-Za-z0-9._:-]+$/),
}).strict();
const readFrame = z.object({
  type: z.literal("read"),
  conversationId: z.string().max(200),
  upTo: z.string().max(200),
})
  .strict();

const sendBody = z.object({
  to: z.union([z.string(), z.number()]),
  content: z.string().max(20_000),
  clientMessageId: z.string().min(1).max(100).regex(/^[A-Za-z0-9._:-]+$/, "letters, digits and . _ : - only"),
}).strict();

const historyQuery = z.object({
  before: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

const readBody = z.object({ upTo: z.string().max(200) }).strict();

/** A history position as an opaque token: `<sentAt ms>.<message id>` in base64url. */
export function encodeCursor(message: Pick<StoredMessage, "sentAt" | "id">): string {
  return btoa(`${message.sentAt.getTime()}.${message.id}`).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

function decodeCursor(token: string): HistoryCursor {
  try {
    const [ms, id] = atob(token.replaceAll("-", "+").replaceAll("_", "/")).split(".");
    const sentAt = new Date(Number(ms));
    if (!/^[0-9]+$/.test(ms) || Number.isNaN(sentAt.getTime()) || !z.uuid().safeParse(id).success) throw 0;
    return { sentAt, id };
  } catch {
    problem(400, "invalid-cursor", "invalid cursor", "use the `next` value of a previous page");
  }
}

/** The caller, who must be a participant of `conversationId` (403 otherwise, 404 for an id that is none). */
async function participant(
  c: Context,
  groups: Pick<Groups, "find">,
  conversationId: string,
): Promise<string> {
  const userId = currentUser(c);
  const users = await conversationMembers(groups, conversationId);
  if (!users) problem(404, "unknown-conversation", "no such conversation", `"${conversationId}" is not one`);
  if (!users.includes(userId)) problem(403, "not-a-member", "not a member of this conversation");
  return userId;
}

/** A recipient: a user id, or a group's conversation id. */
function recipient(raw: unknown): string | undefined {
  return typeof raw === "string" && isGroupId(raw) ? raw : parseId(raw);
}

function view(message: StoredMessage) {
  return {
    id: message.id,
    conversationId: message.conversationId,
    senderId: message.senderId,
    content: message.content,
    sentAt: message.sentAt.toISOString(),
    /** For `before` and read markers. */
    cursor: encodeCursor(message),
  };
}

export function chatRoutes(deps: ChatRoutesDeps): Hono {
  const app = new Hono();

  app.get("/", (c) => c.html(chatPage));

  app.post("/messages", async (c) => {
    const senderId = currentUser(c);
    const body = await jsonBody(c, sendBody, "invalid message");
    const to = recipient(body.to);
    if (!to) {
      problem(400, "validation", "invalid message", "to: a user id or a group's conversation id", {
        errors: [{ field: "to", message: "a user id or a group's conversation id" }],
      });
    }
    try {
      const sent = await sendMessage(deps, {
        senderId,
        to,
        content: body.content,
        clientMessageId: body.clientMessageId,
        headers: traceHeaders(c),
      });
      return c.json(sent, 202);
    } catch (error) {
      if (error instanceof NotAMemberError) problem(403, "not-a-member", "not a member", error.message);
      if (!(error instanceof SendRefusal)) throw error;
      const status = error.code === "unknown-recipient" ? 404 : 400;
      return problem(
        status,
        error.code === "invalid" ? "validation" : error.code,
        "message refused",
        error.message,
        {
          errors: [{ field: error.field, message: error.message }],
        },
      );
    }
  });

  app.get("/conversations", async (c) => {
    const userId = currentUser(c);
    // Messages name the participants of their time: a group the user has left is not theirs to see any more.
    const items = [];
    for (const item of await deps.store.conversations(userId, 50)) {
      const members = await conversationMembers(deps.groups, item.conversationId);
      if (members?.includes(userId)) items.push(item);
    }
    return c.json({
      items: items.map((item) => ({
        conversationId: item.conversationId,
        lastMessage: view(item.lastMessage),
        unread: item.unread,
      })),
    });
  });

  app.get("/conversations/:id/messages", async (c) => {
    const conversationId = c.req.param("id");
    await participant(c, deps.groups, conversationId);
    const query = validated(historyQuery, c.req.query(), "invalid history query");
    const before = query.before === undefined ? undefined : decodeCursor(query.before);
    const page = await deps.store.history(conversationId, { before, limit: query.limit });
    const last = page.at(-1);
    return c.json({
      items: page.map(view),
      next: page.length === query.limit && last ? encodeCursor(last) : null,
    });
  });

  app.post("/conversations/:id/read", async (c) => {
    const conversationId = c.req.param("id");
    const userId = await participant(c, deps.groups, conversationId);
    const body = await jsonBody(c, readBody, "invalid read marker");
    await deps.store.markRead(userId, conversationId, decodeCursor(body.upTo));
    return c.body(null, 204);
  });

  const groupBody = z.object({
    name: z.string().max(200),
    members: z.array(z.union([z.string(), z.number()])).max(200),
  }).strict();
  const memberBody = z.object({ userId: z.union([z.string(), z.number()]) }).strict();
  const refused = (error: unknown): never => {
    if (error instanceof NotAMemberError) problem(403, "not-a-member", "not allowed", error.message);
    if (error instanceof SendRefusal) {
      const status = error.code === "unknown-recipient" ? 404 : 400;
      problem(status, error.code === "invalid" ? "validation" : error.code, "refused", error.message, {
        errors: [{ field: error.field, message: error.message }],
      });
    }
    throw error;
  };
  const userIds = (raw: readonly (string | number)[]) => {
    const ids = raw.map((value) => parseId(value));
    if (ids.some((value) => !value)) {
      problem(400, "validation", "invalid members", "members: user ids", {
        errors: [{ field: "members", message: "user ids" }],
      });
    }
    return ids as string[];
  };

  app.post("/groups", async (c) => {
    const ownerId = currentUser(c);
    const body = await jsonBody(c, groupBody, "invalid group");
    const group = await createGroup(deps, { ownerId, name: body.name, members: userIds(body.members) }).catch(
      refused,
    );
    return c.json(group, 201);
  });

  app.post("/groups/:id/members", async (c) => {
    const by = currentUser(c);
    const body = await jsonBody(c, memberBody, "invalid member");
    const [userId] = userIds([body.userId]);
    const members = await changeMembers(deps, { by, conversationId: c.req.param("id"), add: [userId] }).catch(
      refused,
    );
    return c.json({ members });
  });

  app.delete("/groups/:id/members/:userId", async (c) => {
    const by = currentUser(c);
    const [userId] = userIds([c.req.param("userId")]);
    const members = await changeMembers(deps, { by, conversationId: c.req.param("id"), remove: userId })
      .catch(
        refused,
      );
    return c.json({ members });
  });

  // Live push and sending over one socket: `send` → `ack` (or `error`), `read` → `ack`; every message frame
  // carries its id, so a client drops one it already shows (pushes are at least once).
  app.get("/ws", (c) => {
    const userId = currentUser(c);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      problem(426, "upgrade-required", "WebSocket only", "connect with a WebSocket client", {}, {
        upgrade: "websocket",
      });
    }
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    deps.hub.attach(userId, socket);
    const reply = (frame: Record<string, unknown>) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    };
    socket.onmessage = (event) => {
      void onFrame(userId, event.data, reply).catch((error) =>
        reply({ type: "error", error: error instanceof Error ? error.message : String(error) })
      );
    };
    return response;
  });

  async function onFrame(userId: string, data: unknown, reply: (frame: Record<string, unknown>) => void) {
    let json: unknown;
    try {
      json = typeof data === "string" && data.length <= 65_536 ? JSON.parse(data) : undefined;
    } catch { /* reported below */ }
    const kind = (json as { type?: unknown } | undefined)?.type;
    if (kind === "send") {
      const frame = sendFrame.safeParse(json);
      const to = frame.success ? recipient(frame.data.to) : undefined;
      if (!frame.success || !to) return reply({ type: "error", error: "malformed send frame" });
      try {
        const sent = await sendMessage(deps, {
          senderId: userId,
          to,
          content: frame.data.content,
          clientMessageId: frame.data.clientMessageId,
        });
        return reply({ type: "ack", clientMessageId: frame.data.clientMessageId, ...sent });
      } catch (error) {
        if (!(error instanceof SendRefusal) && !(error instanceof NotAMemberError)) throw error;
        return reply({ type: "error", clientMessageId: frame.data.clientMessageId, error: error.message });
      }
    }
    if (kind === "read") {
      const frame = readFrame.safeParse(json);
      if (!frame.success) return reply({ type: "error", error: "malformed read frame" });
      const users = await conversationMembers(deps.groups, frame.data.conversationId);
      if (!users?.includes(userId)) {
        return reply({ type: "error", error: "not a member of this conversation" });
      }
      let upTo: HistoryCursor;
      try {
        upTo = decodeCursor(frame.data.upTo);
      } catch {
        return reply({ type: "error", error: "invalid cursor" });
      }
      await deps.store.markRead(userId, frame.data.conversationId, upTo);
      return reply({ type: "ack", read: frame.data.conversationId });
    }
    reply({ type: "error", error: "malformed frame: send {type: send|read, ...}" });
  }

  return app;
}
