import assert from "node:assert/strict";
import { pageLimits, pageOf, parsePage } from "./page.ts";

Deno.test("parsePage: defaults, bounds and cursors", () => {
  assert.deepEqual(parsePage({}), { ok: true, page: { limit: pageLimits.default } });
  assert.deepEqual(parsePage({ limit: "100", after: "abc" }), {
    ok: true,
    page: { limit: 100, after: "abc" },
  });
  for (const limit of ["0", "101", "-1", "1.5", "x", "", "99999"]) {
    assert.deepEqual(parsePage({ limit }), { ok: false, error: "invalid_limit" }, limit);
  }
  for (const after of ["", "a b", "x".repeat(201)]) {
    assert.deepEqual(parsePage({ after }), { ok: false, error: "invalid_cursor" }, JSON.stringify(after));
  }
});

Deno.test("pageOf: a next cursor only when one more row than the limit was read", () => {
  const rows = [{ id: "1" }, { id: "2" }, { id: "3" }];
  assert.deepEqual(pageOf(rows, 2, (r) => r.id), { items: [{ id: "1" }, { id: "2" }], next: "2" });
  assert.deepEqual(pageOf(rows, 3, (r) => r.id), { items: rows });
  assert.deepEqual(pageOf([], 3, (r: { id: string }) => r.id), { items: [] });
});
