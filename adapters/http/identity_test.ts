import assert from "node:assert/strict";
import { Hono } from "hono";
import { bearerAuthenticator, currentUser, identify, requireAdmin } from "./identity.ts";
import { problemResponse } from "./problem.ts";

/** An app whose only verifier knows one token per user; `/me` needs a user, `/admin` an administrator. */
function app(operatorToken?: string) {
  const tokens: Record<string, { userId: string; role: "user" | "admin" }> = {
    "user.7": { userId: "7", role: "user" },
    "admin.1": { userId: "1", role: "admin" },
  };
  const authenticator = bearerAuthenticator({
    verify: (token) => Promise.resolve(tokens[token]),
    operatorToken,
  });
  const api = new Hono();
  api.onError((error, c) => problemResponse(error, c, () => {}));
  api.use(identify(authenticator));
  api.get("/me", (c) => c.json({ userId: currentUser(c) }));
  api.get("/admin", requireAdmin, (c) => c.json({ ok: true }));
  api.get("/public", (c) => c.json({ ok: true }));
  return api;
}

const get = async (api: Hono, path: string, authorization?: string) => {
  const response = await api.request(path, { headers: authorization ? { authorization } : {} });
  return { status: response.status, body: await response.json() };
};

Deno.test("the bearer scheme is case-insensitive and the token is the user's", async () => {
  for (const header of ["Bearer user.7", "bearer user.7", "BEARER  user.7"]) {
    assert.deepEqual(await get(app(), "/me", header), { status: 200, body: { userId: "7" } }, header);
  }
});

Deno.test("no header, another scheme, an unknown token: 401 on user routes, public routes answer", async () => {
  for (const header of [undefined, "Basic dXNlcjpwYXNz", "Bearer", "Bearer unknown", "Bearer a b"]) {
    const { status, body } = await get(app(), "/me", header);
    assert.equal(status, 401, String(header));
    assert.equal(body.type, "urn:problem:unauthenticated");
    assert.equal((await get(app(), "/public", header)).status, 200, "public routes ignore credentials");
  }
});

Deno.test("admin routes: 401 anonymous, 403 for a user, 200 for an admin and for the operator token", async () => {
  const api = app("operator-token-of-32-characters-x");
  assert.equal((await get(api, "/admin")).status, 401);
  assert.equal((await get(api, "/admin", "Bearer user.7")).status, 403);
  assert.equal((await get(api, "/admin", "Bearer admin.1")).status, 200);
  assert.equal((await get(api, "/admin", "Bearer operator-token-of-32-characters-x")).status, 200);
  assert.equal((await get(api, "/admin", "Bearer operator-token-of-32-characters-y")).status, 401);
  // the operator acts for no user
  assert.equal((await get(api, "/me", "Bearer operator-token-of-32-characters-x")).status, 403);
  // without a configured operator token, the same string is just an unknown token
  assert.equal((await get(app(), "/admin", "Bearer operator-token-of-32-characters-x")).status, 401);
});
