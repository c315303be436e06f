/**
 * What an e-mail address, a username and a password must be. Checked at the edge, before anything is stored;
 * each rule answers with a sentence a person can act on.
 */

/** Longest address SMTP carries (RFC 5321: 254 octets in a path). */
const maxEmailLength = 254;
// One @, no spaces, a dot in the domain, no consecutive dots: strict enough to catch typos, loose enough for
// the addresses people have (plus signs, sub-domains, long TLDs).
const emailPattern =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Usernames: 3 to 32 letters, digits, '.', '_' or '-', starting with a letter or a digit. */
const usernamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$/;

/** OWASP ASVS 5 (2.1.1) asks for at least 12 characters; 128 bounds the hashing work a request can cause. */
export const passwordLength = { min: 12, max: 128 } as const;

// The most common passwords of the length we accept (from the public breach lists); a longer list belongs to a
// breached-password service, which a deployment can add in front.
const commonPasswords = new Set([
  "123456789012",
  "1234567890123",
  "password1234",
  "password12345",
  "qwertyuiop12",
  "qwerty123456",
  "iloveyou1234",
  "administrator",
  "passw0rd1234",
  "letmein12345",
  "welcome12345",
  "abc123456789",
  "111111111111",
  "000000000000",
  "aaaaaaaaaaaa",
  "qwertyuiopas",
  "1q2w3e4r5t6y",
  "zaq12wsxcde3",
]);

/** The address as stored and compared: trimmed, lower case (two spellings are one account). */
export function normalizeEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** Why `email` (normalized) is not an address we accept, or undefined when it is. */
export function emailProblem(email: string): string | undefined {
  if (email.length > maxEmailLength) return `an e-mail address has at most ${maxEmailLength} characters`;
  if (!emailPattern.test(email) || email.includes("..")) {
    return "must be an e-mail address like ada@example.com";
  }
  return undefined;
}

/** Why `username` is not one we accept, or undefined when it is. */
export function usernameProblem(username: string): string | undefined {
  if (!usernamePattern.test(username)) {
    return "3 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter or a digit";
  }
  return undefined;
}

/** Why `password` is too weak for the account (`username`, `email`), or undefined when it is acceptable. */
export function passwordProblem(
  password: string,
  account: { readonly username?: string; readonly email?: string } = {},
): string | undefined {
  // Counted in characters a person typed (code points), not UTF-16 units.
  const length = [...password].length;
  if (length < passwordLength.min) return `at least ${passwordLength.min} characters`;
  if (length > passwordLength.max) return `at most ${passwordLength.max} characters`;
  if (new Set(password).size < 4) return "too few different characters";
  const lower = password.toLowerCase();
  if (commonPasswords.has(lower)) return "one of the most common passwords; choose another";
  const names = [account.username, account.email, account.email?.split("@")[0]]
    .filter((name): name is string => name !== undefined && name.length >= 3)
    .map((name) => name.toLowerCase());
  if (names.some((name) => lower.includes(name))) {
    return "must not contain the username or the e-mail address";
  }
  return undefined;
}
