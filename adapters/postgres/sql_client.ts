/** A small SQL port that postgres.js (server) and PGlite (embedded) both implement, so one SQL serves both. */

/** Runs parameterized SQL ($1, $2, ...) in PostgreSQL's dialect. */
export interface SqlClient {
  /** Runs one statement and returns its rows. int8 columns must be cast (::text or ::int) by the caller. */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs `work` in a transaction; inside a transaction it runs in the same one. */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
}

/** A database connection pool with the extras the processes need. */
export interface SqlDatabase extends SqlClient {
  /** Runs several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  /** Calls `onNotify` on each NOTIFY on `channel`; resolves to a function that stops listening. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** SQLSTATE classes and network errors that mean "the database is unreachable", not "this data is bad". */
export function isTransientDatabaseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (/^(08|53|57P|57014|55P03|40001|40P01)/.test(code)) return true;
    if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|CONNECT_TIMEOUT|CONNECTION_)/.test(code)) return true;
  }
  return /connection (terminated|ended|refused|closed)|ECONNREFUSED/i.test(error.message);
}
