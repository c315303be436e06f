import assert from "node:assert/strict";
import { compareLikes } from "./consistency.ts";

const states = (entries: Record<string, boolean>) => new Map(Object.entries(entries));

Deno.test("compareLikes: a cache that agrees with the like rows has no findings and repairs nothing", () => {
  const result = compareLikes(
    { count: 2, states: states({ "1": true, "2": true, "3": false }) },
    { count: 2, likedBy: new Set(["1", "2"]) },
  );
  assert.deepEqual(result, { findings: [], repair: { states: new Map() } });
});

Deno.test("compareLikes: a wrong count is a count_mismatch repaired with the database's count", () => {
  const result = compareLikes({ count: 5, states: new Map() }, { count: 3, likedBy: new Set() });
  assert.deepEqual(result.findings, [{ kind: "count_mismatch", cacheValue: 5, databaseValue: 3 }]);
  assert.deepEqual(result.repair, { count: 3, states: new Map() });
});

Deno.test("compareLikes: a missing count is a miss, not an inconsistency", () => {
  const result = compareLikes({ states: new Map() }, { count: 7, likedBy: new Set() });
  assert.deepEqual(result, { findings: [], repair: { states: new Map() } });
});

Deno.test("compareLikes: a like row cached as not liked is a missing member, repaired as liked", () => {
  const result = compareLikes(
    { count: 1, states: states({ "7": false }) },
    { count: 1, likedBy: new Set(["7"]) },
  );
  assert.deepEqual(result.findings, [
    { kind: "state_missing", userId: "7", cacheValue: false, databaseValue: true },
  ]);
  assert.deepEqual(result.repair, { states: states({ "7": true }) });
});

Deno.test("compareLikes: a user cached as liked without a like row is an extra member, repaired as not liked", () => {
  const result = compareLikes(
    { count: 0, states: states({ "8": true }) },
    { count: 0, likedBy: new Set() },
  );
  assert.deepEqual(result.findings, [
    { kind: "state_extra", userId: "8", cacheValue: true, databaseValue: false },
  ]);
  assert.deepEqual(result.repair, { states: states({ "8": false }) });
});

Deno.test("compareLikes: users without a cached state are misses, whatever the database says", () => {
  const result = compareLikes({ states: states({ "1": true }) }, { likedBy: new Set(["1", "2"]) });
  assert.deepEqual(result.findings, []);
});

Deno.test("compareLikes: every finding of a target at once, with one plan", () => {
  const result = compareLikes(
    { count: 10, states: states({ "1": true, "2": false, "3": true }) },
    { count: 2, likedBy: new Set(["1", "2"]) },
  );
  assert.deepEqual(result.findings.map((f) => f.kind).sort(), [
    "count_mismatch",
    "state_extra",
    "state_missing",
  ]);
  assert.deepEqual(result.repair, { count: 2, states: states({ "2": true, "3": false }) });
});
