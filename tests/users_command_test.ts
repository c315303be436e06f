/** `deno task users create-admin`: the documented way to the first administrator, on a real database. */
import assert from "node:assert/strict";
import { env, repoRoot, testDatabase, testTopics } from "./helpers.ts";
import { likesApi } from "./fixtures.ts";

async function run(schema: string, args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bin/command.ts", ...args],
    cwd: repoRoot,
    env: { DATABASE_URL: env.databaseUrl, DATABASE_SCHEMA: schema, LOG_LEVEL: "warn" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

Deno.test("create-admin makes an administrator who signs in and reaches the admin endpoints", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(1, "interaction-events");
  await using api = likesApi(db, topic);
  const admin = ["usercenter", "create-admin", "--email", "root@example.com", "--username", "root"];

  // when the command runs with a piped password
  const created = await run(db.schema, [...admin, "--password-stdin"], "a strong admin passphrase\n");
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /administrator root <root@example.com> created/);
  assert.doesNotMatch(created.stdout, /passphrase/, "a piped password is never printed");

  // then the account is an administrator with a user.registered event, and signs in with that password
  const [row] = await db.query<{ role: string }>("select role from users where email = 'root@example.com'");
  assert.equal(row.role, "admin");
  assert.equal((await db.query("select 1 from outbox where event_type = 'user.registered'")).length, 1);
  const login = await api.app.request("/users/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "root@example.com", password: "a strong admin passphrase" }),
  });
  assert.equal(login.status, 200);
  const { accessToken } = await login.json();
  const stats = await api.app.request("/cache/stats", {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  assert.equal(stats.status, 200, "an administrator's token opens the operator endpoints");

  // and without a piped password, a generated one is printed once and works
  const generated = await run(db.schema, [
    "usercenter",
    "create-admin",
    "--email",
    "ops@example.com",
    "--username",
    "ops",
  ]);
  assert.equal(generated.code, 0, generated.stderr);
  const password = /password \(shown once[^:]*\): (\S+)/.exec(generated.stdout)?.[1];
  assert.ok(password && password.length >= 20, generated.stdout);
  const second = await api.app.request("/users/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "ops@example.com", password }),
  });
  assert.equal(second.status, 200);

  // and a taken address or missing arguments are refused with their exit codes, changing nothing
  const again = await run(db.schema, [...admin, "--password-stdin"], "another strong passphrase\n");
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists/);
  const usage = await run(db.schema, ["usercenter", "create-admin", "--email", "x@example.com"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: deno task users create-admin/);
  assert.equal((await db.query("select 1 from users")).length, 2);
});
