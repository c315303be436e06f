import assert from "node:assert/strict";
import { Argon2Hasher, owaspArgon2 } from "./password_hasher.ts";

// Each hash with OWASP's parameters takes ~60 ms: the tests share one, and use cheap parameters elsewhere.
const hasher = new Argon2Hasher();
const password = "correct horse battery staple 🐎";
const hashed = hasher.hash(password);
const cheap = new Argon2Hasher({ memoryKib: 1024, iterations: 1, parallelism: 1 });

// A syntactically valid PHC string of the given parameters (its salt and digest are not of any password).
const phc = (parameters: string, variant = "argon2id") =>
  `$${variant}$v=19$${parameters}$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g`;

Deno.test("Argon2Hasher: a password verifies against its hash, another does not", async () => {
  assert.equal(await hasher.verify(await hashed, password), true);
  assert.equal(await hasher.verify(await hashed, "correct horse battery staple"), false);
  assert.equal(await hasher.verify(await hashed, ""), false);
});

Deno.test("Argon2Hasher: the hash is a PHC string, argon2id with m=19456,t=2,p=1 and a random salt", async () => {
  assert.deepEqual(owaspArgon2, { memoryKib: 19_456, iterations: 2, parallelism: 1 });
  assert.match(await hashed, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  const again = await cheap.hash(password);
  assert.notEqual(again, await cheap.hash(password), "a new salt each time");
});

Deno.test("Argon2Hasher: a hash of other parameters still verifies (they are read from the hash)", async () => {
  const weak = await cheap.hash(password);
  assert.match(weak, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
  assert.equal(await hasher.verify(weak, password), true);
  assert.equal(await hasher.verify(weak, "wrong"), false);
});

Deno.test("Argon2Hasher: needsRehash asks for weaker parameters and what is not an argon2id hash", async () => {
  assert.equal(hasher.needsRehash(await hashed), false);
  assert.equal(hasher.needsRehash(phc("m=65536,t=3,p=1")), false, "stronger is kept");
  for (
    const hash of [
      await cheap.hash(password),
      phc("m=19455,t=2,p=1"),
      phc("m=19456,t=1,p=1"),
      phc("m=19456,t=2,p=4"),
      phc("m=19456,t=2,p=1", "argon2i"),
      "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
      "plain text",
      "",
    ]
  ) {
    assert.equal(hasher.needsRehash(hash), true, hash);
  }
});

Deno.test("Argon2Hasher: verifying against a hash that is not one answers false, never throws", async () => {
  for (
    const hash of [
      "",
      "garbage",
      "$argon2id$",
      "$argon2id$v=19$m=19456,t=2,p=1$!!!$???",
      "$argon2id$v=19$m=abc,t=2,p=1$c29tZXNhbHQ$aGFzaA",
      phc("m=19456,t=2,p=1", "argon2i"),
      "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    ]
  ) {
    assert.equal(await hasher.verify(hash, password), false, hash);
  }
});

Deno.test("Argon2Hasher: verifyNothing does the work of a verification and resolves", async () => {
  assert.equal(await hasher.verifyNothing(password), undefined);
  assert.equal(await cheap.verifyNothing("anything at all"), undefined);
});
