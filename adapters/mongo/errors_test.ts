import assert from "node:assert/strict";
import { isMongoUnavailable } from "./errors.ts";

function named(name: string, cause?: unknown): Error {
  const error = new Error("x", { cause });
  error.name = name;
  return error;
}

Deno.test("MongoDB outages are told from data errors, also when wrapped", () => {
  assert.equal(isMongoUnavailable(named("MongoServerSelectionError")), true);
  assert.equal(isMongoUnavailable(named("MongoNetworkError")), true);
  assert.equal(
    isMongoUnavailable(new Error("batch failed", { cause: named("MongoNetworkTimeoutError") })),
    true,
  );
  assert.equal(isMongoUnavailable(named("MongoBulkWriteError")), false);
  assert.equal(isMongoUnavailable(named("MongoServerError")), false);
  assert.equal(isMongoUnavailable(new TypeError("bad")), false);
  assert.equal(isMongoUnavailable("not an error"), false);
});
