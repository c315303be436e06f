/** The user center's transactions on PostgreSQL. */
import type { UnitOfWork } from "../../../application/ports.ts";
import type { UserCenterTx, UsersTx } from "../../../application/usercenter/ports.ts";
import { type OutboxSettings, PostgresInboxStore, PostgresOutboxWriter } from "../outbox_store.ts";
import type { SqlClient } from "../sql_client.ts";
import { sqlUnitOfWork } from "../unit_of_work.ts";
import { PostgresMailQueue, PostgresUserActivity, PostgresUserStore } from "./user_store.ts";

/** The API's write transaction: accounts and the outbox. */
export function usersUnitOfWork(db: SqlClient, outbox: OutboxSettings = {}): UnitOfWork<UsersTx> {
  return sqlUnitOfWork(
    db,
    (tx) => ({ users: new PostgresUserStore(tx), outbox: new PostgresOutboxWriter(tx, outbox) }),
  );
}

/** The `usercenter` group's transaction: inbox, accounts, mail queue, activity, and the outbox. */
export function userCenterUnitOfWork(db: SqlClient, outbox: OutboxSettings = {}): UnitOfWork<UserCenterTx> {
  return sqlUnitOfWork(db, (tx) => {
    const activity = new PostgresUserActivity(tx);
    return {
      inbox: new PostgresInboxStore(tx),
      users: new PostgresUserStore(tx),
      mail: new PostgresMailQueue(tx),
      outbox: new PostgresOutboxWriter(tx, outbox),
      createDefaultSettings: (userId, at) => activity.createDefaultSettings(userId, at),
      recordLogin: (eventId, userId, attempt) => activity.recordLogin(eventId, userId, attempt),
      loginHistory: (userId, since, limit) => activity.loginHistory(userId, since, limit),
      recordAnomaly: (eventId, userId, anomaly, at) => activity.recordAnomaly(eventId, userId, anomaly, at),
      forgetActivity: (userId) => activity.forgetActivity(userId),
    };
  });
}
