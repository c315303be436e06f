import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader, type JWTPayload, SignJWT } from "jose";
import type { TokenClaims } from "../../application/usercenter/ports.ts";
import { JwtTokens } from "./tokens.ts";

const secret = "a-test-secret-of-at-least-32-chars!";
const start = new Date("2024-05-01T12:00:00.000Z");
const claims: TokenClaims = { userId: "9223372036854775807", role: "admin", tokenVersion: 2 };

/** Tokens whose clock the test moves. */
function tokensAt(options: { secret?: string; ttlSeconds?: number } = {}) {
  let now = start.getTime();
  const tokens = new JwtTokens({
    secret: options.secret ?? secret,
    ttlSeconds: options.ttlSeconds ?? 900,
    clock: { now: () => new Date(now) },
  });
  return {
    tokens,
    /** Moves the clock `seconds` forward from the start. */
    at(seconds: number) {
      now = start.getTime() + seconds * 1000;
    },
  };
}

/** A token signed with `secret` (HS256) carrying `payload`: what a holder of the secret could mint. */
function signed(payload: JWTPayload, key = secret): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(
    new TextEncoder().encode(key),
  );
}

const base64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");

Deno.test("JwtTokens: an issued token verifies to the claims it was issued for", async () => {
  const { tokens } = tokensAt();
  const { token, expiresIn } = await tokens.issue(claims);
  assert.equal(expiresIn, 900);
  assert.deepEqual(await tokens.verify(token), claims);

  assert.deepEqual(decodeProtectedHeader(token), { alg: "HS256", typ: "JWT" });
  const payload = decodeJwt(token);
  assert.equal(payload.sub, claims.userId);
  assert.equal(payload.iat, start.getTime() / 1000);
  assert.equal(payload.exp, start.getTime() / 1000 + 900);
  assert.equal(payload.ver, 2);

  const second = await tokens.issue(claims);
  assert.notEqual(second.token, token, "each token has its own id (jti)");
});

Deno.test("JwtTokens: a token signed with another secret is invalid", async () => {
  const ours = tokensAt().tokens;
  const theirs = tokensAt({ secret: "another-secret-of-at-least-32-chars" }).tokens;
  const { token } = await theirs.issue(claims);
  assert.equal(await ours.verify(token), undefined);
});

Deno.test("JwtTokens: a token whose payload was changed is invalid", async () => {
  const { tokens } = tokensAt();
  const { token } = await tokens.issue({ ...claims, role: "user" });
  const [header, , signature] = token.split(".");
  const promoted = base64url({ ...decodeJwt(token), role: "admin" });
  assert.equal(await tokens.verify(`${header}.${promoted}.${signature}`), undefined);
  const older = base64url({ ...decodeJwt(token), ver: 0 });
  assert.equal(await tokens.verify(`${header}.${older}.${signature}`), undefined);
});

Deno.test("JwtTokens: an unsigned token (alg none) is invalid", async () => {
  const { tokens } = tokensAt();
  const { token } = await tokens.issue(claims);
  const payload = base64url(decodeJwt(token));
  assert.equal(await tokens.verify(`${base64url({ alg: "none", typ: "JWT" })}.${payload}.`), undefined);
  assert.equal(await tokens.verify(`${base64url({ alg: "none" })}.${payload}.`), undefined);
});

Deno.test("JwtTokens: a token is valid until its ttl ends", async () => {
  const { tokens, at } = tokensAt({ ttlSeconds: 900 });
  const { token } = await tokens.issue(claims);
  at(899);
  assert.deepEqual(await tokens.verify(token), claims);
  at(901);
  assert.equal(await tokens.verify(token), undefined);
});

Deno.test("JwtTokens: a token without a numeric version, a numeric subject or a known role is invalid", async () => {
  const { tokens } = tokensAt();
  const valid = decodeJwt((await tokens.issue(claims)).token);
  assert.deepEqual(await tokens.verify(await signed(valid)), claims, "re-signed as is: still valid");

  const { ver: _, ...unversioned } = valid;
  for (
    const payload of [
      unversioned,
      { ...valid, ver: "2" },
      { ...valid, ver: 1.5 },
      { ...valid, sub: "ada" },
      { ...valid, sub: "0" },
      { ...valid, sub: "-7" },
      { ...valid, sub: "9223372036854775808" },
      { ...valid, role: "superuser" },
      { ...valid, iss: "someone-else" },
      { ...valid, aud: "another-api" },
    ]
  ) {
    assert.equal(await tokens.verify(await signed(payload)), undefined, JSON.stringify(payload));
  }
  const { sub: __, ...anonymous } = valid;
  assert.equal(await tokens.verify(await signed(anonymous)), undefined, "no subject");
});

Deno.test("JwtTokens: what is not a token at all is invalid, without throwing", async () => {
  const { tokens } = tokensAt();
  for (const token of ["", "abc", "a.b.c", "Bearer x", `${base64url({ alg: "HS256" })}.e30.`]) {
    assert.equal(await tokens.verify(token), undefined, token);
  }
});

Deno.test("JwtTokens: a signing secret shorter than 32 characters is refused", () => {
  assert.throws(
    () => new JwtTokens({ secret: "x".repeat(31), ttlSeconds: 900, clock: { now: () => start } }),
    RangeError,
  );
  new JwtTokens({ secret: "x".repeat(32), ttlSeconds: 900, clock: { now: () => start } });
});
