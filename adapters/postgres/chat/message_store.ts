/**
 * The chat message store on PostgreSQL (server or PGlite: one SQL). Tables from `migrations/0001_messages.sql`,
 * registered under the scope "chat". User ids are bigints; message ids UUIDs, whose order in PostgreSQL is that
 * of their lowercase text, so history pages the same here as in MongoDB.
 */
import type {
  ConversationSummary,
  HistoryCursor,
  MessageStore,
  StoredMessage,
} from "../../../application/chat/ports.ts";
import type { SqlClient } from "../sql_client.ts";

interface MessageRow {
  id: string;
  conversation_id: string;
  sender_id: string;
  participants: string[];
  content: string;
  sent_at: Date | string;
}

/** The columns of a message row of `table` (a name or an alias), ids as text. */
function columns(table: string): string {
  return `${table}.id::text as id, ${table}.conversation_id, ${table}.sender_id::text as sender_id,
    ${table}.participants::text[] as participants, ${table}.content, ${table}.sent_at`;
}

function toMessage(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    senderId: row.sender_id,
    participants: row.participants,
    content: row.content,
    sentAt: new Date(row.sent_at),
  };
}

/** Messages and read markers in `chat_messages` and `chat_read_markers`. */
export class SqlMessageStore implements MessageStore {
  readonly #sql: SqlClient;
  readonly #close: () => Promise<void>;

  /** `close` is what `close()` does (e.g. close the pool the store was given); nothing by default. */
  constructor(sql: SqlClient, options: { close?: () => Promise<void> } = {}) {
    this.#sql = sql;
    this.#close = options.close ?? (() => Promise.resolve());
  }

  async store(messages: readonly StoredMessage[]): Promise<number> {
    if (messages.length === 0) return 0;
    // One statement, so the batch needs no transaction; a message already stored (or twice in the batch) is
    // skipped by its primary key, and only the rows inserted now are counted.
    const batch = JSON.stringify(messages.map((m) => ({
      id: m.id,
      conversation_id: m.conversationId,
      sender_id: m.senderId,
      participants: m.participants,
      content: m.content,
      sent_at: m.sentAt.toISOString(),
    })));
    const [{ count }] = await this.#sql.query<{ count: number }>(
      `with inserted as (
         insert into chat_messages (id, conversation_id, sender_id, participants, content, sent_at)
         select id, conversation_id, sender_id, participants, content, sent_at
         from jsonb_to_recordset($1::text::jsonb) as m(id uuid, conversation_id text, sender_id bigint,
           participants bigint[], content text, sent_at timestamptz)
         on conflict (id) do nothing
         returning 1)
       select count(*)::int as count from inserted`,
      [batch],
    );
    return count;
  }

  async history(
    conversationId: string,
    options: { before?: HistoryCursor; limit: number },
  ): Promise<StoredMessage[]> {
    const { before, limit } = options;
    const rows = before
      ? await this.#sql.query<MessageRow>(
        `select ${columns("chat_messages")} from chat_messages
         where conversation_id = $1 and (sent_at, id) < ($2::timestamptz, $3::uuid)
         order by sent_at desc, id desc limit $4`,
        [conversationId, before.sentAt.toISOString(), before.id, limit],
      )
      : await this.#sql.query<MessageRow>(
        `select ${columns("chat_messages")} from chat_messages where conversation_id = $1
         order by sent_at desc, id desc limit $2`,
        [conversationId, limit],
      );
    return rows.map(toMessage);
  }

  async conversations(userId: string, limit: number): Promise<ConversationSummary[]> {
    // The last message of each conversation the user is in, the newest `limit` of them, then the others'
    // messages after the user's marker in each (all of them without a marker).
    const rows = await this.#sql.query<MessageRow & { unread: number }>(
      `with last as (
         select distinct on (conversation_id) *
         from chat_messages
         where participants @> array[$1::bigint]
         order by conversation_id, sent_at desc, id desc
       ), newest as (
         select * from last order by sent_at desc, id desc limit $2
       )
       select ${columns("n")},
         (select count(*) from chat_messages m
          where m.conversation_id = n.conversation_id
            and m.participants @> array[$1::bigint]
            and m.sender_id <> $1::bigint
            and (r.user_id is null or (m.sent_at, m.id) > (r.sent_at, r.message_id)))::int as unread
       from newest n
       left join chat_read_markers r on r.user_id = $1::bigint and r.conversation_id = n.conversation_id
       order by n.sent_at desc, n.id desc`,
      [userId, limit],
    );
    return rows.map((row) => ({
      conversationId: row.conversation_id,
      lastMessage: toMessage(row),
      unread: row.unread,
    }));
  }

  async markRead(userId: string, conversationId: string, upTo: HistoryCursor): Promise<void> {
    // One statement: a marker already at or past `upTo` is left as it is, whatever runs at the same time.
    await this.#sql.query(
      `insert into chat_read_markers (user_id, conversation_id, sent_at, message_id)
       values ($1::bigint, $2, $3::timestamptz, $4::uuid)
       on conflict (user_id, conversation_id) do update
         set sent_at = excluded.sent_at, message_id = excluded.message_id
         where (chat_read_markers.sent_at, chat_read_markers.message_id) < (excluded.sent_at, excluded.message_id)`,
      [userId, conversationId, upTo.sentAt.toISOString(), upTo.id],
    );
  }

  async ping(): Promise<void> {
    await this.#sql.query("select 1");
  }

  close(): Promise<void> {
    return this.#close();
  }
}
