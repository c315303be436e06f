import assert from "node:assert/strict";
import { Hono } from "hono";
import { requireOperator } from "./operator.ts";
import { problemResponse } from "./problem.ts";

function app(token: string | undefined) {
  let calls = 0;
  const hono = new Hono();
  hono.onError((error, c) => problemResponse(error, c, () => {}));
  hono.use(requireOperator(token));
  hono.get("/ops", (c) => c.json({ calls: ++calls }));
  return { hono, calls: () => calls };
}

Deno.test("operator endpoints: closed without a configured token, 401 without a token, 403 for a wrong one", async () => {
  const closed = app(undefined);
  const disabled = await closed.hono.request("/ops", {
    headers: { authorization: "Bearer anything-at-all-here" },
  });
  assert.equal(disabled.status, 403);
  assert.equal((await disabled.json()).type, "urn:problem:operator-disabled");

  const guarded = app("s3cret-operator-token");
  assert.equal((await guarded.hono.request("/ops")).status, 401);
  const wrong = await guarded.hono.request("/ops", {
    headers: { authorization: "Bearer s3cret-operator-tokeX" },
  });
  assert.equal(wrong.status, 403);
  assert.equal(guarded.calls(), 0, "no handler ran for a refused request");

  const right = await guarded.hono.request("/ops", {
    headers: { authorization: "Bearer s3cret-operator-token" },
  });
  assert.equal(right.status, 200);
  assert.equal(guarded.calls(), 1);
});
