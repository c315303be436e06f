/** SqlDatabase over PGlite: PostgreSQL in WebAssembly, in this process, data kept in a folder. */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { SqlClient, SqlDatabase } from "../postgres/sql_client.ts";

function client(handle: PGlite | Transaction, inTransaction: boolean): SqlClient {
  return {
    async query<T>(text: string, params: readonly unknown[] = []) {
      return (await handle.query<T>(text, params as unknown[])).rows;
    },
    transaction: (work) =>
      inTransaction
        ? work(client(handle, true))
        // PGlite has one session: work must use the transaction's own handle, never the outer one.
        : (handle as PGlite).transaction((tx) => work(client(tx, true))),
  };
}

/** Opens (or creates) the database in `dataDir`; undefined keeps it in memory. */
export async function openPglite(dataDir?: string): Promise<SqlDatabase & { readonly created: boolean }> {
  let created = true;
  if (dataDir) {
    try {
      created = !(await Deno.stat(`${dataDir}/PG_VERSION`)).isFile;
    } catch {
      created = true;
    }
  }
  const db = await PGlite.create(dataDir);
  const base = client(db, false);
  return {
    created,
    query: base.query,
    transaction: base.transaction,
    async exec(text) {
      await db.exec(text);
    },
    async listen(channel, onNotify) {
      const unsubscribe = await db.listen(channel, () => onNotify());
      return () => unsubscribe();
    },
    async close() {
      await db.close();
    },
  };
}
