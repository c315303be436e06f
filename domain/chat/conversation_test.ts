import assert from "node:assert/strict";
import { contentProblem, directConversationId, directParticipants, maxContentChars } from "./conversation.ts";

Deno.test("a direct conversation has one id whoever writes first, and gives its two users back", () => {
  assert.equal(directConversationId("7", "12"), "dm:7:12");
  assert.equal(directConversationId("12", "7"), "dm:7:12");
  // numeric order, not text order
  assert.equal(directConversationId("100", "99"), "dm:99:100");
  assert.deepEqual(directParticipants("dm:99:100"), ["99", "100"]);
  for (const bad of ["dm:100:99", "dm:7:7", "dm:7", "group:1", "dm:07:12", "dm:a:b"]) {
    assert.equal(directParticipants(bad), undefined, bad);
  }
});

Deno.test("content: not blank, at most the limit in code points, no NUL", () => {
  assert.equal(contentProblem("hello"), undefined);
  assert.equal(contentProblem("😀".repeat(maxContentChars)), undefined);
  assert.ok(contentProblem("   \n"));
  assert.ok(contentProblem("x".repeat(maxContentChars + 1)));
  assert.ok(contentProblem("a\u0000b"));
});
