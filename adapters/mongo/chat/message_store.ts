/**
 * The chat message store on MongoDB (or the MongoDB-compatible test server, which has no transactions and
 * ignores non-unique indexes). Nothing here needs a transaction: a message's `_id` is its id, so a redelivered
 * message is a duplicate key, and a read marker moves forward in one conditional upsert.
 */
import { type Collection, type Filter, MongoBulkWriteError, MongoClient, MongoServerError } from "mongodb";
import type {
  ConversationSummary,
  HistoryCursor,
  MessageStore,
  StoredMessage,
} from "../../../application/chat/ports.ts";

/** A message in `chat_messages`: `_id` is the message id, `sentAt` a BSON date. */
interface MessageDocument {
  _id: string;
  conversationId: string;
  senderId: string;
  participants: string[];
  content: string;
  sentAt: Date;
}

/** A user's read marker in a conversation, in `chat_read_markers`: the newest (sentAt, id) they have read. */
interface MarkerDocument {
  /** `markerKey(userId, conversationId)`: one marker per user and conversation. */
  _id: string;
  userId: string;
  conversationId: string;
  sentAt: Date;
  messageId: string;
}

const duplicateKey = 11000;

/** One string per (user, conversation), unambiguous whatever characters the ids hold. */
function markerKey(userId: string, conversationId: string): string {
  return JSON.stringify([userId, conversationId]);
}

function toMessage(document: MessageDocument): StoredMessage {
  return {
    id: document._id,
    conversationId: document.conversationId,
    senderId: document.senderId,
    participants: document.participants,
    content: document.content,
    sentAt: document.sentAt,
  };
}

/** The messages strictly before `cursor` in (sentAt, id) order. */
function before(cursor: HistoryCursor): Filter<MessageDocument> {
  return { $or: [{ sentAt: { $lt: cursor.sentAt } }, { sentAt: cursor.sentAt, _id: { $lt: cursor.id } }] };
}

/** The messages strictly after `marker` in (sentAt, id) order. */
function after(marker: MarkerDocument): Filter<MessageDocument> {
  return {
    $or: [{ sentAt: { $gt: marker.sentAt } }, { sentAt: marker.sentAt, _id: { $gt: marker.messageId } }],
  };
}

/** Messages in `chat_messages` and read markers in `chat_read_markers` of one database. */
export class MongoMessageStore implements MessageStore {
  readonly #client: MongoClient;
  readonly #messages: Collection<MessageDocument>;
  readonly #markers: Collection<MarkerDocument>;

  /** Works in `options.database` through `client`, which the store owns: `close()` closes it. */
  constructor(client: MongoClient, options: { database: string }) {
    this.#client = client;
    const db = client.db(options.database);
    this.#messages = db.collection("chat_messages");
    this.#markers = db.collection("chat_read_markers");
  }

  /**
   * Creates the indexes the queries use (idempotent; run at start-up). Uniqueness needs none: it is the `_id` of
   * both collections.
   */
  async ensureIndexes(): Promise<void> {
    await this.#messages.createIndex({ conversationId: 1, sentAt: -1, _id: -1 }, { name: "history" });
    await this.#messages.createIndex({ participants: 1, sentAt: -1, _id: -1 }, { name: "by_participant" });
  }

  async store(messages: readonly StoredMessage[]): Promise<number> {
    if (messages.length === 0) return 0;
    const documents = messages.map((m): MessageDocument => ({
      _id: m.id,
      conversationId: m.conversationId,
      senderId: m.senderId,
      participants: [...m.participants],
      content: m.content,
      sentAt: m.sentAt,
    }));
    try {
      await this.#messages.insertMany(documents, { ordered: false });
      return documents.length;
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError) || error.writeConcernError) throw error;
      const failures = [error.writeErrors].flat();
      if (failures.some((failure) => failure.code !== duplicateKey)) throw error;
      // Unordered: every document is either inserted or has its one write error. Counted from the errors because
      // the test server reports every document of the batch as inserted (`insertedCount`).
      return documents.length - failures.length;
    }
  }

  async history(
    conversationId: string,
    options: { before?: HistoryCursor; limit: number },
  ): Promise<StoredMessage[]> {
    const filter: Filter<MessageDocument> = options.before
      ? { conversationId, ...before(options.before) }
      : { conversationId };
    const documents = await this.#messages.find(filter).sort({ sentAt: -1, _id: -1 }).limit(options.limit)
      .toArray();
    return documents.map(toMessage);
  }

  async conversations(userId: string, limit: number): Promise<ConversationSummary[]> {
    // 1. the last message of each of the user's conversations, the newest `limit` of them
    const lasts = await this.#messages.aggregate<{ _id: string; last: MessageDocument }>([
      { $match: { participants: userId } },
      { $sort: { sentAt: -1, _id: -1 } },
      { $group: { _id: "$conversationId", last: { $first: "$$ROOT" } } },
      { $sort: { "last.sentAt": -1, "last._id": -1 } },
      { $limit: limit },
    ]).toArray();
    if (lasts.length === 0) return [];

    // 2. the user's markers in those; 3. the others' messages after each marker (all without one), counted
    const markers = await this.#markers
      .find({ _id: { $in: lasts.map((c) => markerKey(userId, c._id)) } })
      .toArray();
    const markerOf = new Map(markers.map((m) => [m.conversationId, m]));
    const unread = await this.#messages.aggregate<{ _id: string; unread: number }>([
      {
        $match: {
          participants: userId,
          senderId: { $ne: userId },
          $or: lasts.map(({ _id: conversationId }) => {
            const marker = markerOf.get(conversationId);
            return marker ? { conversationId, ...after(marker) } : { conversationId };
          }),
        },
      },
      { $group: { _id: "$conversationId", unread: { $sum: 1 } } },
    ]).toArray();
    const unreadOf = new Map(unread.map((u) => [u._id, u.unread]));

    return lasts.map(({ _id: conversationId, last }) => ({
      conversationId,
      lastMessage: toMessage(last),
      unread: unreadOf.get(conversationId) ?? 0,
    }));
  }

  async markRead(userId: string, conversationId: string, upTo: HistoryCursor): Promise<void> {
    const _id = markerKey(userId, conversationId);
    // Matches only a marker behind `upTo`; when none matches, the upsert inserts one, which fails on the
    // `_id` when a marker exists (at or past `upTo`, or just inserted by a concurrent call).
    const behind: Filter<MarkerDocument> = {
      _id,
      $or: [{ sentAt: { $lt: upTo.sentAt } }, { sentAt: upTo.sentAt, messageId: { $lt: upTo.id } }],
    };
    const update = { $set: { userId, conversationId, sentAt: upTo.sentAt, messageId: upTo.id } };
    try {
      await this.#markers.updateOne(behind, update, { upsert: true });
    } catch (error) {
      if (!(error instanceof MongoServerError) || error.code !== duplicateKey) throw error;
      // The marker exists now (markers are never deleted): move it if it is still behind, without an upsert.
      await this.#markers.updateOne(behind, update);
    }
  }

  async ping(): Promise<void> {
    await this.#client.db("admin").command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}

/**
 * A store on `url` (a `mongodb://` URL) in `database`, owning its client. Connects lazily, on the first call;
 * a server that cannot be reached fails a call after 5 s instead of the driver's default 30 s. Call
 * `ensureIndexes()` once at start-up.
 */
export function openMongoMessageStore(url: string, database: string): MongoMessageStore {
  return new MongoMessageStore(new MongoClient(url, { serverSelectionTimeoutMS: 5_000 }), { database });
}
