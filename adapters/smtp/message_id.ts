/** The RFC 5322 Message-ID of a mail, derived from its stable id: a resend carries the same one. */

// atext of RFC 5322 (3.2.3) less "%", which escapes every other character.
const atext = /^[A-Za-z0-9!#$&'*+\-/=?^_`{|}~]$/;
const encoder = new TextEncoder();

/** The domain of a From address (`noreply@example.com`, `"Likes" <noreply@example.com>`). */
export function senderDomain(from: string): string {
  const domain = /@([^\s@<>"]+)>?\s*$/.exec(from)?.[1];
  if (!domain) throw new Error(`the From address has no domain: ${JSON.stringify(from)}`);
  return domain;
}

/**
 * `<id@domain>`. An id that is not a valid left part (a dot-atom) is percent-encoded, byte for byte, so the
 * header stays valid and the same id still gives the same Message-ID; a UUID is kept as it is.
 */
export function messageIdFor(id: string, domain: string): string {
  if (id === "") throw new Error("a mail id is required to derive its Message-ID");
  const kept = [...id].map((char) => atext.test(char) || char === "." ? char : percentEncoded(char)).join("");
  // A dot-atom neither starts nor ends with a dot, nor has two in a row.
  return `<${kept.replace(/^\.|\.$|\.(?=\.)/g, "%2E")}@${domain}>`;
}

function percentEncoded(char: string): string {
  return [...encoder.encode(char)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`)
    .join("");
}
