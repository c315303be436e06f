import assert from "node:assert/strict";
import {
  contentProblem,
  directConversationId,
  directParticipants,
  groupProblem,
  isGroupId,
  maxContentChars,
  maxGroupMembers,
} from "./conversation.ts";

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

Deno.test("group ids and group rules", () => {
  assert.equal(isGroupId("g:01a23418-4bd2-7276-a03c-ad2553e46d08"), true);
  for (const bad of ["g:", "g:not-a-uuid", "dm:1:2", "G:01a23418-4bd2-7276-a03c-ad2553e46d08"]) {
    assert.equal(isGroupId(bad), false, bad);
  }
  assert.equal(groupProblem("friends", ["2", "3"]), undefined);
  assert.ok(groupProblem(" ", ["2"]));
  assert.ok(groupProblem("x".repeat(101), ["2"]));
  assert.ok(groupProblem("friends", []));
  assert.ok(groupProblem("crowd", Array.from({ length: maxGroupMembers }, (_, i) => String(i + 2))));
});
