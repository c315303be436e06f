/**
 * Chat (seed 003): sending only publishes a `message.sent` on `message-events`; the `storage-consumer-group`
 * stores messages in MongoDB (or, without MONGO_URL, in the platform's database) behind one message-store port,
 * and the `push-consumer-group` pushes them to the participants' WebSockets in every API process (through a
 * bus: Redis pub/sub, or memory in one process). History and conversation lists read the store.
 */
import { Hono } from "hono";
import { z } from "zod";
import { messageSent } from "../../application/chat/message_event.ts";
import type { MessageStore } from "../../application/chat/ports.ts";
import { pushMessages } from "../../application/chat/push_messages.ts";
import { storeMessages } from "../../application/chat/store_messages.ts";
import { consumerGroup, type ContextModule, withSettings } from "../context_module.ts";
import { chatRoutes } from "../http/chat/chat_routes.ts";
import { SocketHub } from "../http/chat/hub.ts";
import { MemoryPushBus } from "../memory/chat/push_bus.ts";
import { openMongoMessageStore } from "../mongo/chat/message_store.ts";
import { SqlMessageStore } from "../postgres/chat/message_store.ts";
import {
  chatUnitOfWork,
  PostgresAuditLog,
  PostgresGroups,
  PostgresUserDirectory,
} from "../postgres/chat/send_log.ts";
import { auditMessages } from "../../application/chat/audit_messages.ts";
import { auditRoutes } from "../http/chat/audit_routes.ts";
import { requireAdmin } from "../http/identity.ts";
import { RedisPushBus } from "../redis/chat/push_bus.ts";
import { intSetting } from "../settings.ts";

const topic = "message-events";

const chatSettings = z.object({
  /** MongoDB for messages (`mongodb://host:27017`); unset: the platform's own database keeps them. */
  MONGO_URL: z.string().regex(
    /^mongodb(\+srv)?:\/\/.+/,
    "must be a mongodb:// URL, e.g. mongodb://127.0.0.1:27017",
  ).optional(),
  MONGO_DATABASE: z.string().regex(/^[A-Za-z0-9_-]{1,60}$/, "letters, digits, '_' and '-' only").default(
    "chat",
  ),
  /** A WebSocket with more unsent data than this is closed (4008): a slow client never holds the others. */
  CHAT_SOCKET_MAX_BUFFERED_BYTES: intSetting(1_048_576, 1_024),
});

export const chatModule: ContextModule = {
  name: "chat",
  migrations: new URL("../postgres/chat/migrations/", import.meta.url),
  topics: [{ name: topic }],
  ...withSettings(chatSettings, (platform, settings) => {
    const { db, clock, logger } = platform;
    const mongo = settings.MONGO_URL
      ? openMongoMessageStore(settings.MONGO_URL, settings.MONGO_DATABASE)
      : undefined;
    const store: MessageStore = mongo ?? new SqlMessageStore(db);
    const backend = settings.MONGO_URL ? "MongoDB" : "the platform database";
    // Pushes reach every API process through the bus; each writes to the sockets it holds.
    const bus = platform.redis
      ? new RedisPushBus(platform.redis, platform.topic("chat-push"))
      : new MemoryPushBus();
    const hub = new SocketHub({ maxBufferedBytes: settings.CHAT_SOCKET_MAX_BUFFERED_BYTES });
    let unsubscribe: (() => Promise<void>) | undefined;
    const audit = new PostgresAuditLog(db);
    return {
      routes: [{
        path: "/chat/audit",
        app: new Hono().use(requireAdmin).route("/", auditRoutes({ audit })),
      }, {
        path: "/chat",
        app: new Hono().route(
          "/",
          chatRoutes({
            unitOfWork: chatUnitOfWork(db, platform.outbox),
            users: new PostgresUserDirectory(db),
            clock,
            topic: platform.topic(topic),
            store,
            hub,
            groups: new PostgresGroups(db),
          }),
        ),
      }],
      consumers: [
        consumerGroup({
          // No inbox: the store skips a message id it holds, so a redelivery stores nothing twice.
          name: "storage-consumer-group",
          topics: [topic],
          handlers: { [messageSent.eventType]: storeMessages({ store, logger }) },
          batched: true,
          inbox: false,
        }),
        consumerGroup({
          // At least once, no inbox: clients drop a message id they already show.
          name: "push-consumer-group",
          topics: [topic],
          handlers: { [messageSent.eventType]: pushMessages({ bus }) },
          batched: false,
          inbox: false,
        }),
        consumerGroup({
          // Seed 001's audit-log consumer of chat events: one record per message, idempotent by its id.
          name: "chat-audit-group",
          topics: [topic],
          handlers: { [messageSent.eventType]: auditMessages({ audit }) },
          batched: true,
          inbox: false,
        }),
      ],
      // Indexes speed the queries up and decide nothing (ids are unique by `_id`): MongoDB unreachable at start
      // leaves a warning and the process serves (sends only publish; storage waits for MongoDB).
      onStart: [async () => {
        unsubscribe = await bus.subscribe((delivery) => hub.deliver(delivery));
        return "chat push subscribed";
      }, async () => {
        await mongo?.ensureIndexes();
        return `chat messages stored in ${backend}`;
      }],
      onStop: [async () => {
        hub.closeAll();
        await unsubscribe?.();
      }, () => store.close()],
      examples: [
        `curl -X POST {url}/chat/messages -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"to":"2","content":"hello","clientMessageId":"c-1"}'`,
      ],
    };
  }),
};
