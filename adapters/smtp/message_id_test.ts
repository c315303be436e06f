import assert from "node:assert/strict";
import { messageIdFor, senderDomain } from "./message_id.ts";

Deno.test("a Message-ID keeps a UUID or a dot-atom id as it is", () => {
  const id = "0b6c2a4e-5f1d-4c1e-9a53-8f6f0c7d2b11";
  assert.equal(messageIdFor(id, "example.com"), `<${id}@example.com>`);
  assert.equal(messageIdFor("welcome.42", "example.com"), "<welcome.42@example.com>");
});

Deno.test("a Message-ID percent-encodes what a dot-atom may not hold, the same way every time", () => {
  assert.equal(messageIdFor("order:7 shipped", "example.com"), "<order%3A7%20shipped@example.com>");
  assert.equal(messageIdFor("50%", "example.com"), "<50%25@example.com>");
  assert.equal(messageIdFor(".a..b.", "example.com"), "<%2Ea%2E.b%2E@example.com>");
  assert.equal(messageIdFor("é<>@", "example.com"), "<%C3%A9%3C%3E%40@example.com>");
  assert.throws(() => messageIdFor("", "example.com"));
});

Deno.test("the sender domain comes from a bare or a named From address", () => {
  assert.equal(senderDomain("noreply@example.com"), "example.com");
  assert.equal(senderDomain(`"Likes @ Home" <noreply@mail.example.com>`), "mail.example.com");
  assert.throws(() => senderDomain("noreply"), /no domain/);
});
