/**
 * The MongoDB-compatible server the tests use (deploy/mongo.sh, started by tests/prepare.ts when nothing
 * answers on MONGO_URL): what the code relies on works through the real driver (npm:mongodb 7.5.0).
 */
import assert from "node:assert/strict";
import { MongoClient, MongoServerError } from "mongodb";
import { env, mongoAddress, repoRoot, uniqueId } from "./servers.ts";

Deno.test("mongo server: insert, unique index (11000), find with sort and limit, drop", async () => {
  const client = new MongoClient(env.mongoUrl, { serverSelectionTimeoutMS: 5_000 });
  const name = `test_${uniqueId()}`;
  try {
    await client.connect();
    const db = client.db(name);
    const messages = db.collection<{ messageId: string; seq: number }>("messages");
    await messages.createIndex({ messageId: 1 }, { unique: true });
    const inserted = await messages.insertMany(
      Array.from({ length: 10 }, (_, seq) => ({ messageId: `m${seq}`, seq })),
    );
    assert.equal(inserted.insertedCount, 10);

    const duplicate = await messages.insertOne({ messageId: "m3", seq: 99 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(duplicate instanceof MongoServerError, `expected a server error, got ${duplicate}`);
    assert.equal(duplicate.code, 11000);
    assert.equal(await messages.countDocuments(), 10);

    const latest = await messages.find({ seq: { $lt: 8 } }).sort({ seq: -1 }).limit(3).toArray();
    assert.deepEqual(latest.map((doc) => doc.seq), [7, 6, 5]);

    assert.equal(await db.dropDatabase(), true);
    const { databases } = await client.db().admin().listDatabases();
    assert.ok(!databases.some((database) => database.name === name), `${name} still listed`);
  } finally {
    await client.close();
  }
});

Deno.test("mongo server: deploy/mongo.sh status exits 0 while it runs", async () => {
  const { host, port } = mongoAddress(env.mongoUrl);
  const output = await new Deno.Command("bash", {
    args: [`${repoRoot}deploy/mongo.sh`, "status"],
    env: { MONGO_HOST: host, MONGO_PORT: port },
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, `status: ${text}${new TextDecoder().decode(output.stderr)}`);
  assert.match(text, /^running/);
});
