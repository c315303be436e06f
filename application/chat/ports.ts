/** What the chat context needs from the outside: the message store (MongoDB, or the embedded database). */
import type { OutboxWriter } from "../../outbox/ports.ts";

/** A message as stored: the storage consumer writes it from its `message.sent` event. */
export interface StoredMessage {
  /** The message id (a UUIDv7 chosen at send time): the unique key that makes a redelivery a no-op. */
  readonly id: string;
  /** `dm:<smaller user id>:<larger user id>` for two users, or a group's id. */
  readonly conversationId: string;
  readonly senderId: string;
  /** Everyone who may read it (sender included): a user's conversation list is read from this. */
  readonly participants: readonly string[];
  readonly content: string;
  /** When the API accepted it; history is ordered by (sentAt, id). */
  readonly sentAt: Date;
}

/** A position in a conversation's history: messages strictly before it come next. */
export interface HistoryCursor {
  readonly sentAt: Date;
  readonly id: string;
}

/** A conversation as one of its participants sees it in their list. */
export interface ConversationSummary {
  readonly conversationId: string;
  readonly lastMessage: StoredMessage;
  /** Messages of others after the user's read marker. */
  readonly unread: number;
}

/**
 * The message store. It needs no transactions: a message is inserted under its unique id (a duplicate is
 * skipped), and everything derived (lists, unread counts) is read from the messages and the read markers.
 */
export interface MessageStore {
  /** Stores the messages not stored yet; returns how many were new. */
  store(messages: readonly StoredMessage[]): Promise<number>;
  /** The conversation's messages newest first, strictly before `before` (from the newest without it). */
  history(
    conversationId: string,
    options: { before?: HistoryCursor; limit: number },
  ): Promise<StoredMessage[]>;
  /** The user's conversations, the most recently active first, with the last message and unread count. */
  conversations(userId: string, limit: number): Promise<ConversationSummary[]>;
  /** Moves the user's read marker in the conversation forward to `upTo` (never back). */
  markRead(userId: string, conversationId: string, upTo: HistoryCursor): Promise<void>;
  /** Readiness probe. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Sends already accepted, by (sender, clientMessageId): a client's retry gets the same message back. */
export interface SendLog {
  /** Records the send; false when this sender already used `clientMessageId` (nothing recorded). */
  record(
    send: { senderId: string; clientMessageId: string; messageId: string; conversationId: string },
  ): Promise<
    boolean
  >;
  /** The message an earlier send with this `clientMessageId` created. */
  find(
    senderId: string,
    clientMessageId: string,
  ): Promise<{ messageId: string; conversationId: string } | undefined>;
}

/** Groups and their members (PostgreSQL: written with the group's events). */
export interface Groups {
  create(
    group: { conversationId: string; name: string; ownerId: string; members: readonly string[] },
  ): Promise<void>;
  /** The group's owner and members, or undefined when there is no such group. */
  find(conversationId: string): Promise<{ name: string; ownerId: string; members: string[] } | undefined>;
  /** Adds members; returns those who were not members yet. */
  add(conversationId: string, userIds: readonly string[]): Promise<string[]>;
  /** Removes a member; false when they were not one. */
  remove(conversationId: string, userId: string): Promise<boolean>;
}

/** The send transaction: the send log, groups, and the outbox (nothing that needs MongoDB). */
export interface ChatTx {
  readonly sends: SendLog;
  readonly groups: Groups;
  readonly outbox: OutboxWriter;
}

/** Who can receive messages: active accounts (read from the user center's accounts). */
export interface UserDirectory {
  isActiveUser(userId: string): Promise<boolean>;
  /** Those of `userIds` that are not active accounts. */
  unknownUsers(userIds: readonly string[]): Promise<string[]>;
}

/** A frame for some users' open WebSockets, wherever they are connected. */
export interface PushDelivery {
  readonly userIds: readonly string[];
  /** The frame as sent to each socket (JSON text). */
  readonly frame: string;
}

/**
 * Routes pushes to the API processes: the push group publishes each delivery once; every API process receives
 * it and writes it to the sockets it holds for those users (Redis pub/sub, or memory in one process).
 */
export interface PushBus {
  publish(delivery: PushDelivery): Promise<void>;
  /** Calls `deliver` for every delivery from now on; resolves to a function that stops it. */
  subscribe(deliver: (delivery: PushDelivery) => void): Promise<() => Promise<void>>;
}

/** One audit record: never the content. */
export interface AuditRecord {
  readonly messageId: string;
  readonly conversationId: string;
  readonly senderId: string;
  readonly recipients: number;
  readonly contentBytes: number;
  readonly sentAt: Date;
}

/** The append-only audit log of messages. */
export interface AuditLog {
  /** Appends the records not there yet (by message id); returns how many were new. */
  append(records: readonly AuditRecord[]): Promise<number>;
  /** The newest records first, filtered by sender or conversation. */
  query(filter: { senderId?: string; conversationId?: string; limit: number }): Promise<AuditRecord[]>;
}
