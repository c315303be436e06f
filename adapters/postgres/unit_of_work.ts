/** Units of work on PostgreSQL: repositories and the outbox bound to one transaction. */
import type { UnitOfWork } from "../../application/ports.ts";
import type { SqlClient } from "./sql_client.ts";

/** A unit of work whose transaction handle is turned into `Tx` by `bind`. */
export function sqlUnitOfWork<Tx>(db: SqlClient, bind: (tx: SqlClient) => Tx): UnitOfWork<Tx> {
  return { inTransaction: (work) => db.transaction((tx) => work(bind(tx))) };
}
