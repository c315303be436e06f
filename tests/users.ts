/**
 * Users for tests: accounts inserted straight into a test schema (no hashing: they never sign in with a
 * password) and real access tokens for them, signed with the secret the test processes get. The token is
 * verified by the API like any other: signature, expiry, and the account's status and token version.
 */
import { JwtTokens } from "../adapters/jwt/tokens.ts";
import type { SqlClient } from "../adapters/postgres/sql_client.ts";
import { systemClock } from "../application/ports.ts";

/** The signing secret of every test (spawned processes get it as JWT_SECRET). */
export const testJwtSecret = "test-signing-secret-of-at-least-32-characters";

const tokens = new JwtTokens({ secret: testJwtSecret, ttlSeconds: 3600, clock: systemClock });

/** Inserts accounts with these ids (when missing) and returns `Authorization` headers by id. */
export async function signedIn(
  db: SqlClient,
  ids: readonly (string | number)[],
  options: { role?: "user" | "admin" } = {},
): Promise<Map<string, { authorization: string }>> {
  const role = options.role ?? "user";
  const list = ids.map(String);
  await db.query(
    `insert into users (id, username, email, password_hash, role)
     select id, 'user' || id, 'user' || id || '@example.test', '!', $2 from unnest($1::bigint[]) as t(id)
     on conflict do nothing`,
    [list, role],
  );
  // Later registrations must not collide with the ids chosen here.
  await db.query("select setval(pg_get_serial_sequence('users', 'id'), (select max(id) from users))");
  const headers = new Map<string, { authorization: string }>();
  for (const id of list) {
    const { token } = await tokens.issue({ userId: id, role, tokenVersion: 0 });
    headers.set(id, { authorization: `Bearer ${token}` });
  }
  return headers;
}

/** `Authorization` headers of one account (inserted when missing). */
export async function as(
  db: SqlClient,
  id: string | number,
  options: { role?: "user" | "admin" } = {},
): Promise<{ authorization: string }> {
  return (await signedIn(db, [id], options)).get(String(id))!;
}
