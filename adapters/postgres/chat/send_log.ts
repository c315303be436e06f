/** The chat context's send log and its view of the accounts, on PostgreSQL (server or PGlite). */
import type { UnitOfWork } from "../../../application/ports.ts";
import type {
  AuditLog,
  AuditRecord,
  ChatTx,
  Groups,
  SendLog,
  UserDirectory,
} from "../../../application/chat/ports.ts";
import { type OutboxSettings, PostgresOutboxWriter } from "../outbox_store.ts";
import type { SqlClient } from "../sql_client.ts";
import { sqlUnitOfWork } from "../unit_of_work.ts";

export class PostgresSendLog implements SendLog {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async record(
    send: { senderId: string; clientMessageId: string; messageId: string; conversationId: string },
  ): Promise<boolean> {
    const rows = await this.#sql.query(
      `insert into chat_sends (sender_id, client_message_id, message_id, conversation_id) values ($1, $2, $3, $4)
       on conflict do nothing returning 1`,
      [send.senderId, send.clientMessageId, send.messageId, send.conversationId],
    );
    return rows.length > 0;
  }

  async find(senderId: string, clientMessageId: string) {
    const [row] = await this.#sql.query<{ message_id: string; conversation_id: string }>(
      "select message_id::text, conversation_id from chat_sends where sender_id = $1 and client_message_id = $2",
      [senderId, clientMessageId],
    );
    return row && { messageId: row.message_id, conversationId: row.conversation_id };
  }
}

/**
 * Active accounts, read from the user center's table in the same database (a published read model would
 * replace this query if the contexts ever had databases of their own).
 */
export class PostgresUserDirectory implements UserDirectory {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async isActiveUser(userId: string): Promise<boolean> {
    return (await this.unknownUsers([userId])).length === 0;
  }

  async unknownUsers(userIds: readonly string[]): Promise<string[]> {
    const rows = await this.#sql.query<{ id: string }>(
      `select id::text from unnest($1::bigint[]) as given(id)
       where not exists (select 1 from users u where u.id = given.id and u.status = 'active')`,
      [userIds],
    );
    return rows.map((row) => row.id);
  }
}

/** The send transaction: the send log and the outbox. */
export function chatUnitOfWork(db: SqlClient, outbox: OutboxSettings = {}): UnitOfWork<ChatTx> {
  return sqlUnitOfWork(
    db,
    (tx) => ({
      sends: new PostgresSendLog(tx),
      groups: new PostgresGroups(tx),
      outbox: new PostgresOutboxWriter(tx, outbox),
    }),
  );
}

/** The chat audit log on PostgreSQL. */
export class PostgresAuditLog implements AuditLog {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async append(records: readonly AuditRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    const rows = await this.#sql.query(
      `insert into chat_audit (message_id, conversation_id, sender_id, recipients, content_bytes, sent_at)
       select * from unnest($1::uuid[], $2::text[], $3::bigint[], $4::int[], $5::int[], $6::timestamptz[])
       on conflict do nothing returning 1`,
      [
        records.map((r) => r.messageId),
        records.map((r) => r.conversationId),
        records.map((r) => r.senderId),
        records.map((r) => r.recipients),
        records.map((r) => r.contentBytes),
        records.map((r) => r.sentAt.toISOString()),
      ],
    );
    return rows.length;
  }

  async query(filter: { senderId?: string; conversationId?: string; limit: number }): Promise<AuditRecord[]> {
    const rows = await this.#sql.query<{
      message_id: string;
      conversation_id: string;
      sender_id: string;
      recipients: number;
      content_bytes: number;
      sent_at: Date | string;
    }>(
      `select message_id::text, conversation_id, sender_id::text, recipients, content_bytes, sent_at from chat_audit
       where ($1::bigint is null or sender_id = $1::bigint) and ($2::text is null or conversation_id = $2)
       order by sent_at desc, message_id desc limit $3`,
      [filter.senderId ?? null, filter.conversationId ?? null, filter.limit],
    );
    return rows.map((r) => ({
      messageId: r.message_id,
      conversationId: r.conversation_id,
      senderId: r.sender_id,
      recipients: r.recipients,
      contentBytes: r.content_bytes,
      sentAt: new Date(r.sent_at),
    }));
  }
}

/** Groups and members on PostgreSQL. */
export class PostgresGroups implements Groups {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async create(group: { conversationId: string; name: string; ownerId: string; members: readonly string[] }) {
    await this.#sql.query("insert into chat_groups (conversation_id, name, owner_id) values ($1, $2, $3)", [
      group.conversationId,
      group.name,
      group.ownerId,
    ]);
    await this.add(group.conversationId, [group.ownerId, ...group.members]);
  }

  async find(conversationId: string) {
    const [group] = await this.#sql.query<{ name: string; owner_id: string }>(
      "select name, owner_id::text from chat_groups where conversation_id = $1",
      [conversationId],
    );
    if (!group) return undefined;
    const members = await this.#sql.query<{ user_id: string }>(
      "select user_id::text from chat_group_members where conversation_id = $1 order by added_at, user_id",
      [conversationId],
    );
    return { name: group.name, ownerId: group.owner_id, members: members.map((m) => m.user_id) };
  }

  async add(conversationId: string, userIds: readonly string[]): Promise<string[]> {
    const rows = await this.#sql.query<{ user_id: string }>(
      `insert into chat_group_members (conversation_id, user_id)
       select $1, id from unnest($2::bigint[]) as given(id) on conflict do nothing returning user_id::text`,
      [conversationId, [...new Set(userIds)]],
    );
    return rows.map((row) => row.user_id);
  }

  async remove(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.#sql.query(
      "delete from chat_group_members where conversation_id = $1 and user_id = $2 returning 1",
      [conversationId, userId],
    );
    return rows.length > 0;
  }
}
