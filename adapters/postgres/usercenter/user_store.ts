/** The user center's tables on PostgreSQL (server or PGlite). */
import type { Anomaly, LoginAttempt } from "../../../domain/usercenter/anomaly.ts";
import type { Role, UserState, UserStatus } from "../../../domain/usercenter/account.ts";
import type { MailOutbox } from "../../../application/usercenter/mail_dispatch.ts";
import type {
  MailQueue,
  NewUser,
  QueuedMail,
  StoredMail,
  StoredUser,
  UserStore,
} from "../../../application/usercenter/ports.ts";
import type { SqlClient } from "../sql_client.ts";

interface UserRow {
  id: string;
  username: string;
  email: string;
  password_hash: string;
  role: Role;
  status: UserStatus;
  token_version: number;
  display_name: string | null;
  bio: string | null;
  created_at: Date | string;
  last_login_at: Date | string | null;
}

const columns =
  `id::text as id, username, email, password_hash, role, status, token_version, display_name, bio,
  created_at, last_login_at`;

function toUser(row: UserRow): StoredUser {
  return {
    exists: true,
    id: row.id,
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    role: row.role,
    status: row.status,
    tokenVersion: row.token_version,
    profile: { displayName: row.display_name, bio: row.bio },
    createdAt: new Date(row.created_at),
    lastLoginAt: row.last_login_at === null ? null : new Date(row.last_login_at),
  };
}

/** SQLSTATE of a unique violation. */
function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "23505";
}

/** Accounts: in a transaction, or on the pool for reads. */
export class PostgresUserStore implements UserStore {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async nextId(): Promise<string> {
    const [row] = await this.#sql.query<{ id: string }>(
      "select nextval(pg_get_serial_sequence('users', 'id'))::text as id",
    );
    return row.id;
  }

  async byEmail(email: string): Promise<StoredUser | undefined> {
    const [row] = await this.#sql.query<UserRow>(
      `select ${columns} from users where lower(email) = lower($1)`,
      [email],
    );
    return row && toUser(row);
  }

  async byId(id: string, options: { forUpdate?: boolean } = {}): Promise<StoredUser | undefined> {
    const [row] = await this.#sql.query<UserRow>(
      `select ${columns} from users where id = $1${options.forUpdate ? " for update" : ""}`,
      [id],
    );
    return row && toUser(row);
  }

  async insert(user: NewUser): Promise<boolean> {
    // `on conflict do nothing` covers both unique indexes: the loser of a race inserts nothing, without error.
    const rows = await this.#sql.query(
      `insert into users (id, username, email, password_hash, role, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $6) on conflict do nothing returning 1`,
      [user.id, user.username, user.email, user.passwordHash, user.role, user.createdAt.toISOString()],
    );
    return rows.length > 0;
  }

  /** A unique violation (the username) aborts the transaction: the caller refuses and rolls back. */
  async save(user: UserState): Promise<boolean> {
    try {
      await this.#sql.query(
        `update users set username = $2, status = $3, role = $4, token_version = $5, display_name = $6, bio = $7,
           updated_at = now(), deleted_at = case when $3 = 'deleted' then coalesce(deleted_at, now()) end
         where id = $1`,
        [
          user.id,
          user.username,
          user.status,
          user.role,
          user.tokenVersion,
          user.profile.displayName ?? null,
          user.profile.bio ?? null,
        ],
      );
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async setPasswordHash(userId: string, hash: string, expected?: string): Promise<boolean> {
    const rows = await this.#sql.query(
      `update users set password_hash = $2, updated_at = now()
       where id = $1 and ($3::text is null or password_hash = $3) returning 1`,
      [userId, hash, expected ?? null],
    );
    return rows.length > 0;
  }

  async usernameTaken(username: string, exceptId?: string): Promise<boolean> {
    const rows = await this.#sql.query(
      "select 1 from users where lower(username) = lower($1) and ($2::bigint is null or id <> $2::bigint)",
      [username, exceptId ?? null],
    );
    return rows.length > 0;
  }

  async touchLastLogin(userId: string, at: Date): Promise<void> {
    await this.#sql.query(
      "update users set last_login_at = greatest(coalesce(last_login_at, $2), $2) where id = $1",
      [userId, at.toISOString()],
    );
  }

  async anonymise(userId: string): Promise<void> {
    // The row stays (ids in other contexts keep pointing at an account), what identified the person goes.
    await this.#sql.query(
      // Placeholders no registration or rename can produce (names and addresses never start with '~').
      `update users set email = '~deleted~' || id, username = '~deleted~' || id,
         password_hash = '!', display_name = null, bio = null, updated_at = now()
       where id = $1 and status = 'deleted'`,
      [userId],
    );
  }
}

/** The mail queue. */
export class PostgresMailQueue implements MailQueue, MailOutbox {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async enqueue(mail: QueuedMail, at: Date): Promise<boolean> {
    const rows = await this.#sql.query(
      `insert into mail_queue (id, user_id, to_address, kind, subject, body, created_at, next_attempt_at)
       values ($1, $2, $3, $4, $5, $6, $7, $7) on conflict do nothing returning 1`,
      [mail.id, mail.userId, mail.to, mail.kind, mail.subject, mail.text, at.toISOString()],
    );
    return rows.length > 0;
  }

  async forUser(userId: string, limit: number): Promise<StoredMail[]> {
    const rows = await this.#sql.query<MailRow>(
      `select ${mailColumns} from mail_queue where user_id = $1 order by created_at desc, id limit $2`,
      [userId, limit],
    );
    return rows.map(toMail);
  }

  async claim(now: Date, leaseMs: number): Promise<QueuedMail | undefined> {
    const [row] = await this.#sql.query<MailRow>(
      `update mail_queue set next_attempt_at = $2
       where id = (
         select id from mail_queue
         where sent_at is null and next_attempt_at is not null and next_attempt_at <= $1
         order by next_attempt_at, id limit 1 for update skip locked)
       returning ${mailColumns}`,
      [now.toISOString(), new Date(now.getTime() + leaseMs).toISOString()],
    );
    return row && toMail(row);
  }

  async markSent(id: string, at: Date): Promise<void> {
    // A deleted account's confirmation is the last mail that holds its address: erased once sent.
    await this.#sql.query(
      `update mail_queue set sent_at = $2, attempts = attempts + 1, next_attempt_at = null,
         to_address = case when kind = 'account-deleted' then '~erased~' else to_address end,
         body = case when kind = 'account-deleted' then '' else body end
       where id = $1`,
      [id, at.toISOString()],
    );
  }

  async markFailed(id: string, error: string, retryAt: Date | null): Promise<void> {
    await this.#sql.query(
      "update mail_queue set attempts = attempts + 1, last_error = $2, next_attempt_at = $3 where id = $1",
      [id, error.slice(0, 1000), retryAt?.toISOString() ?? null],
    );
  }

  async attempts(id: string): Promise<number> {
    const [row] = await this.#sql.query<{ attempts: number }>(
      "select attempts from mail_queue where id = $1",
      [id],
    );
    return row?.attempts ?? 0;
  }
}

interface MailRow {
  id: string;
  user_id: string;
  to_address: string;
  kind: string;
  subject: string;
  body: string;
  created_at: Date | string;
  sent_at: Date | string | null;
  attempts: number;
  last_error: string | null;
}

const mailColumns =
  "id, user_id::text as user_id, to_address, kind, subject, body, created_at, sent_at, attempts, last_error";

function toMail(row: MailRow): StoredMail {
  return {
    id: row.id,
    userId: row.user_id,
    to: row.to_address,
    kind: row.kind,
    subject: row.subject,
    text: row.body,
    createdAt: new Date(row.created_at),
    sentAt: row.sent_at === null ? null : new Date(row.sent_at),
    attempts: row.attempts,
    lastError: row.last_error,
  };
}

/** Login log, anomalies and settings, bound to the consumer's transaction. */
export class PostgresUserActivity {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async createDefaultSettings(userId: string, at: Date): Promise<void> {
    await this.#sql.query(
      "insert into user_settings (user_id, created_at) values ($1, $2) on conflict do nothing",
      [userId, at.toISOString()],
    );
  }

  async recordLogin(eventId: string, userId: string, attempt: LoginAttempt): Promise<void> {
    await this.#sql.query(
      `insert into login_log (event_id, user_id, succeeded, address, user_agent, at)
       values ($1, $2, $3, $4, $5, $6) on conflict do nothing`,
      [eventId, userId, attempt.succeeded, attempt.address, attempt.userAgent, attempt.at.toISOString()],
    );
  }

  async loginHistory(userId: string, since: Date, limit: number): Promise<LoginAttempt[]> {
    const rows = await this.#sql.query<
      { succeeded: boolean; address: string; user_agent: string; at: Date | string }
    >(
      `select succeeded, address, user_agent, at from login_log where user_id = $1 and at >= $2
       order by at desc limit $3`,
      [userId, since.toISOString(), limit],
    );
    return rows.map((r) => ({
      succeeded: r.succeeded,
      address: r.address,
      userAgent: r.user_agent,
      at: new Date(r.at),
    }));
  }

  async recordAnomaly(eventId: string, userId: string, anomaly: Anomaly, at: Date): Promise<void> {
    await this.#sql.query(
      `insert into login_anomalies (event_id, kind, user_id, detail, at) values ($1, $2, $3, $4, $5)
       on conflict do nothing`,
      [eventId, anomaly.kind, userId, anomaly.detail, at.toISOString()],
    );
  }

  async forgetActivity(userId: string): Promise<void> {
    // Mail too, but the confirmation of the deletion (erased once sent).
    await this.#sql.query("delete from mail_queue where user_id = $1 and kind <> 'account-deleted'", [
      userId,
    ]);
    await this.#sql.query("delete from login_log where user_id = $1", [userId]);
    await this.#sql.query("delete from login_anomalies where user_id = $1", [userId]);
    await this.#sql.query("delete from user_settings where user_id = $1", [userId]);
  }
}
