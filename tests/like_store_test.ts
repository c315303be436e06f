/** The interaction context's SQL stores, on PostgreSQL and PGlite (the same SQL serves both). */
import assert from "node:assert/strict";
import {
  interactionUnitOfWork,
  likeProjectionUnitOfWork,
} from "../adapters/postgres/interaction/unit_of_work.ts";
import { PostgresLikeStore } from "../adapters/postgres/interaction/like_store.ts";
import { openEmbedded, openPostgres } from "./contracts/adapters.ts";

for (const [name, open] of [["PostgreSQL", openPostgres], ["PGlite", openEmbedded]] as const) {
  Deno.test(`${name}: like rows and the count projection, with ids beyond 2^53`, async () => {
    await using db = await open();
    const big = { type: "video" as const, id: "9223372036854775807" };
    const uow = interactionUnitOfWork(db);
    assert.equal(await uow.inTransaction((tx) => tx.likes.add("1", big, new Date())), true);
    assert.equal(await uow.inTransaction((tx) => tx.likes.add("1", big, new Date())), false);
    const queries = new PostgresLikeStore(db);
    assert.equal(await queries.isLiked("1", big), true);
    const counts = await likeProjectionUnitOfWork(db).inTransaction((tx) =>
      tx.likeCounts.apply([{ target: big, delta: 3 }, { target: { type: "comment", id: "5" }, delta: 1 }])
    );
    assert.deepEqual(counts.find((c) => c.target.type === "video"), { target: big, count: 3 });
    assert.deepEqual(
      await queries.countLikes([big]),
      new Map([["video:9223372036854775807", 1]]),
      "the like rows",
    );
    assert.deepEqual((await queries.topCounts(1))[0], { target: big, count: 3 });
    await likeProjectionUnitOfWork(db).inTransaction((tx) =>
      tx.likeCounts.apply([{ target: { type: "video", id: "6" }, delta: 9 }, {
        target: { type: "video", id: "7" },
        delta: 10,
      }])
    );
    assert.deepEqual(
      (await queries.topCounts(2)).map((c) => c.count),
      [10, 9],
      "hottest first, compared as numbers",
    );
    assert.equal(await uow.inTransaction((tx) => tx.likes.remove("1", big)), true);
    assert.equal(await queries.isLiked("1", big), false);
  });
}
