import { MongoClient } from "mongodb";
import { MongoMessageStore } from "../adapters/mongo/chat/message_store.ts";
import { openPglite } from "../adapters/pglite/pglite.ts";
import { SqlMessageStore } from "../adapters/postgres/chat/message_store.ts";
import { migrate, type MigrationScope } from "../adapters/postgres/migrate.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { messageStoreContract } from "./contracts/message_store_contract.ts";
import { testDatabase, uniqueId } from "./helpers.ts";

const mongoUrl = Deno.env.get("MONGO_URL") ?? "mongodb://127.0.0.1:27017";

// The chat module registers this scope; until then (and harmlessly after) the tests migrate it themselves.
const chatMigrations: MigrationScope = {
  scope: "chat",
  folder: new URL("../adapters/postgres/chat/migrations/", import.meta.url),
};

messageStoreContract("MongoDB", async () => {
  const database = `chat_test_${uniqueId()}`;
  const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000 });
  const store = new MongoMessageStore(client, { database });
  await store.ensureIndexes();
  return {
    store,
    async close() {
      await client.db(database).dropDatabase().catch(() => {});
      await store.close();
    },
  };
});

messageStoreContract("PostgreSQL", async () => {
  const db = await testDatabase({ max: 2 });
  await migrate(db, [chatMigrations]);
  return { store: new SqlMessageStore(db), close: () => db[Symbol.asyncDispose]() };
});

let pglite: Promise<SqlDatabase> | undefined;

// Creating a PGlite takes seconds: the file's tests share one (it has a single session, so they cannot overlap)
// and empty the chat tables before each; it is never closed, as in tests/contracts/adapters.ts.
messageStoreContract("PGlite", async () => {
  pglite ??= openPglite().then(async (db) => {
    await migrate(db, [chatMigrations]);
    return db;
  });
  const db = await pglite;
  await db.exec("truncate chat_messages, chat_read_markers");
  return { store: new SqlMessageStore(db), close: () => Promise.resolve() };
});
