import assert from "node:assert/strict";
import {
  emailProblem,
  normalizeEmail,
  passwordLength,
  passwordProblem,
  usernameProblem,
} from "./credentials.ts";

const notAnAddress = "must be an e-mail address like ada@example.com";

Deno.test("normalizeEmail trims and lower-cases, so two spellings are one account", () => {
  assert.equal(normalizeEmail("  Ada.Lovelace@Example.COM \n"), "ada.lovelace@example.com");
  assert.equal(normalizeEmail("ada@example.com"), "ada@example.com");
});

Deno.test("emailProblem accepts the addresses people have", () => {
  for (
    const email of [
      "ada@example.com",
      "ada.lovelace+news@mail.example.co.uk",
      "o'brien@example.ie",
      "x@a-b.technology",
      "1234@example.org",
    ]
  ) {
    assert.equal(emailProblem(email), undefined, email);
  }
});

Deno.test("emailProblem refuses typos and what is not an address", () => {
  for (
    const email of [
      "a..b@x.com",
      "ada",
      "ada@",
      "@example.com",
      "ada@example",
      "ada@@example.com",
      "ada lovelace@example.com",
      "ada@-example.com",
      "ada@example..com",
      "ada@example.com.",
      "",
    ]
  ) {
    assert.equal(emailProblem(email), notAnAddress, email);
  }
});

Deno.test("emailProblem: 254 characters is the longest address", () => {
  // 64 + 1 + 189 = 254, with labels of at most 63 characters
  const domain = (last: number) => `${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(last)}.com`;
  const longest = `${"a".repeat(64)}@${domain(57)}`;
  assert.equal(longest.length, 254);
  assert.equal(emailProblem(longest), undefined);

  const tooLong = `${"a".repeat(64)}@${domain(58)}`;
  assert.equal(tooLong.length, 255);
  assert.equal(emailProblem(tooLong), "an e-mail address has at most 254 characters");
});

Deno.test("usernameProblem accepts 3 to 32 letters, digits, '.', '_', '-' starting with a letter or digit", () => {
  for (const username of ["ada", "Ada_Lovelace", "a.b-c", "9lives", "x".repeat(32)]) {
    assert.equal(usernameProblem(username), undefined, username);
  }
  for (
    const username of ["ab", "x".repeat(33), "_ada", ".ada", "-ada", "ada lovelace", "adá", "ada@x", ""]
  ) {
    assert.match(usernameProblem(username) ?? "", /^3 to 32 characters/, username);
  }
});

Deno.test("passwordProblem accepts a long, varied password", () => {
  assert.equal(passwordProblem("correct horse battery staple"), undefined);
  assert.equal(
    passwordProblem("Tr0ub4dor&3-xyz", { username: "ada", email: "ada@example.com" }),
    undefined,
  );
  assert.equal(passwordProblem("mot de passe très sûr"), undefined);
});

Deno.test("passwordProblem: 12 to 128 characters", () => {
  assert.deepEqual(passwordLength, { min: 12, max: 128 });
  assert.equal(passwordProblem("abcdefghijk"), "at least 12 characters");
  assert.equal(passwordProblem("abcdefghijkl"), undefined);
  assert.equal(passwordProblem("abcd".repeat(32)), undefined); // 128
  assert.equal(passwordProblem(`${"abcd".repeat(32)}e`), "at most 128 characters");
});

Deno.test("passwordProblem counts characters as typed (code points), not UTF-16 units", () => {
  const fruit = [..."🍎🍌🍇🍓"];
  const typed = (count: number) => Array.from({ length: count }, (_, i) => fruit[i % 4]).join("");

  // 11 emoji are 22 UTF-16 units but 11 characters: too short
  assert.equal(typed(11).length, 22);
  assert.equal(passwordProblem(typed(11)), "at least 12 characters");
  assert.equal(passwordProblem(typed(12)), undefined);

  // 128 emoji are 256 UTF-16 units but 128 characters: long enough, not too long
  assert.equal(typed(128).length, 256);
  assert.equal(passwordProblem(typed(128)), undefined);
  assert.equal(passwordProblem(typed(129)), "at most 128 characters");

  assert.equal(passwordProblem("密码密码密码密码密码密码"), "too few different characters");
  assert.equal(passwordProblem("我的密码非常安全而且很长"), undefined);
});

Deno.test("passwordProblem refuses a password of too few different characters", () => {
  assert.equal(passwordProblem("abababababab"), "too few different characters");
  assert.equal(passwordProblem("aaaaaaaaaaaa"), "too few different characters");
  assert.equal(passwordProblem("abcabcabcabc"), "too few different characters");
  assert.equal(passwordProblem("abcdabcdabcd"), undefined);
});

Deno.test("passwordProblem refuses the most common passwords, in any case", () => {
  for (const password of ["password1234", "Password1234", "QWERTY123456", "123456789012", "1q2w3e4r5t6y"]) {
    assert.equal(passwordProblem(password), "one of the most common passwords; choose another", password);
  }
});

Deno.test("passwordProblem refuses a password containing the username or the e-mail address", () => {
  const account = { username: "lovelace", email: "grace.hopper@example.com" };
  const refusal = "must not contain the username or the e-mail address";
  assert.equal(passwordProblem("my-LOVELACE-secret", account), refusal);
  assert.equal(passwordProblem("Grace.Hopper-forever", account), refusal);
  assert.equal(passwordProblem("x grace.hopper@example.com", account), refusal);
  assert.equal(passwordProblem("unrelated and long", account), undefined);
  // without an account nothing is compared
  assert.equal(passwordProblem("my-LOVELACE-secret"), undefined);
});

Deno.test("passwordProblem ignores names shorter than 3 characters (they would match too much)", () => {
  assert.equal(passwordProblem("jo likes long walks", { email: "jo@example.com" }), undefined);
});
