/** The interaction context's transactions on PostgreSQL. */
import type { UnitOfWork } from "../../../application/ports.ts";
import type { InteractionTx, LikeProjectionTx } from "../../../application/interaction/ports.ts";
import { type OutboxSettings, PostgresInboxStore, PostgresOutboxWriter } from "../outbox_store.ts";
import type { SqlClient } from "../sql_client.ts";
import { sqlUnitOfWork } from "../unit_of_work.ts";
import { PostgresLikeCountStore, PostgresLikeStore } from "./like_store.ts";

/** The write transaction: like rows and the outbox. */
export function interactionUnitOfWork(db: SqlClient, outbox: OutboxSettings = {}): UnitOfWork<InteractionTx> {
  return sqlUnitOfWork(
    db,
    (tx) => ({ likes: new PostgresLikeStore(tx), outbox: new PostgresOutboxWriter(tx, outbox) }),
  );
}

/** The like projection consumer's transaction: counts and the inbox. */
export function likeProjectionUnitOfWork(db: SqlClient): UnitOfWork<LikeProjectionTx> {
  return sqlUnitOfWork(
    db,
    (tx) => ({ likeCounts: new PostgresLikeCountStore(tx), inbox: new PostgresInboxStore(tx) }),
  );
}
