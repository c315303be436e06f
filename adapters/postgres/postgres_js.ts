/** SqlDatabase over a PostgreSQL server with postgres.js. */
import postgres from "postgres";
import type { SqlClient, SqlDatabase } from "./sql_client.ts";

/** Connection options. */
export interface PostgresOptions {
  /** Schema to work in (created if missing, put first on the search path); default `public`. */
  readonly schema?: string;
  /** Pool size (default 10). */
  readonly max?: number;
}

type Sql = postgres.Sql | postgres.TransactionSql;

function client(sql: Sql): SqlClient {
  return {
    query: <T>(text: string, params: readonly unknown[] = []) =>
      sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }) as unknown as Promise<
        T[]
      >,
    transaction: (work) => work(client(sql)),
  };
}

/** Opens a pool on `url`; fails fast with a clear error when the URL is malformed. */
export async function connectPostgres(url: string, options: PostgresOptions = {}): Promise<SqlDatabase> {
  const schema = options.schema ?? "public";
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connection: { search_path: schema, application_name: "outbox-platform" },
    connect_timeout: 10,
  });
  try {
    if (schema !== "public") await sql.unsafe(`create schema if not exists ${schema}`);
    else await sql`select 1`;
  } catch (error) {
    // A pool whose first statement failed is closed, so a caller retrying does not leak one pool per attempt.
    await sql.end({ timeout: 1 }).catch(() => {});
    throw error;
  }
  return {
    query: client(sql).query,
    transaction: (work) => sql.begin((tx) => work(client(tx))) as Promise<never>,
    async exec(text) {
      await sql.unsafe(text);
    },
    async listen(channel, onNotify) {
      const listener = await sql.listen(channel, onNotify);
      return () => listener.unlisten();
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
