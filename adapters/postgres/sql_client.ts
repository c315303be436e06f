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

// Node's socket errors, and postgres.js's own codes for a connection it could not open or lost.
const connectionCodes =
  /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|CONNECT_TIMEOUT|CONNECTION_)/;
// Deno's own socket errors, by class name.
const connectionNames = new Set([
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "BrokenPipe",
  "TimedOut",
  "NotConnected",
]);
const connectionMessages = /connection (terminated|ended|refused|closed)|ECONNREFUSED|ECONNRESET/i;

/**
 * Whether an error is the database's outage rather than the data's fault, for a consumer to pause on instead of
 * dead-lettering: any SQLSTATE outside class 22 (data exception) and 23 (integrity constraint violation), e.g. a
 * read-only database (25006), a failed login (28000, 28P01), a missing database or table (3D000, 42P01), a
 * shutdown (57P01); and connection-level failures. Looks through `cause`, so a wrapped error keeps its class.
 */
export function isInfrastructureError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = "code" in current && typeof current.code === "string" ? current.code : "";
    if (/^[0-9A-Z]{5}$/.test(code)) return !/^(22|23)/.test(code);
    if (connectionCodes.test(code) || connectionNames.has(current.name)) return true;
    if (connectionMessages.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}
