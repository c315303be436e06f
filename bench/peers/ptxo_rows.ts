/** Rows of pg-transactional-outbox's outbox table, written with plain SQL (no import of the package). */
import type { SqlClient } from "../../adapters/postgres/sql_client.ts";
import { benchEnvelopes } from "../common.ts";

/** The peer's outbox table inside a bench schema. */
export const peerTable = "ptxo_outbox";

/** The peer's next-messages polling function inside a bench schema. */
export const peerFunction = "ptxo_next_outbox_messages";

/**
 * Inserts `count` generated events in ONE transaction, as the package's `initializeMessageStorage` would store
 * them (id = event id, aggregate, message type, segment = key so per-key order is kept, payload = the same
 * envelope our relay sends, metadata = its headers), 1 000 rows per statement. Resolves to the commit time.
 */
export async function insertPeerRows(db: SqlClient, count: number, from = 0): Promise<number> {
  const chunk = 1000;
  await db.transaction(async (tx) => {
    for (let start = from; start < from + count; start += chunk) {
      const events = benchEnvelopes(start, Math.min(from + count, start + chunk));
      await insertPeerEnvelopes(tx, events);
    }
    // Fresh statistics committed with the rows, as for our outbox (see insertOutboxRows).
    if (count >= 1000) await tx.query(`analyze ${peerTable}`);
  });
  return performance.now();
}

/** Inserts envelopes into the peer's table in the caller's transaction. */
export async function insertPeerEnvelopes(
  tx: SqlClient,
  events: ReturnType<typeof benchEnvelopes>,
): Promise<void> {
  await tx.query(
    `insert into ${peerTable} (id, aggregate_type, aggregate_id, message_type, segment, payload, metadata)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[])`,
    [
      events.map((e) => e.eventId),
      events.map((e) => e.aggregateType),
      events.map((e) => e.aggregateId),
      events.map((e) => e.eventType),
      events.map((e) => e.aggregateId),
      events.map((e) => JSON.stringify(e)),
      events.map((e) => JSON.stringify({ "event-type": e.eventType, "aggregate-type": e.aggregateType })),
    ],
  );
}

/** Messages of the peer not processed yet. */
export async function peerPending(db: SqlClient): Promise<number> {
  return (await db.query<{ n: number }>(
    `select count(*)::int as n from ${peerTable} where processed_at is null and abandoned_at is null`,
  ))[0].n;
}
