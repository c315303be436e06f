import assert from "node:assert/strict";
import {
  countDeltas,
  decideLike,
  LikeAction,
  type LikeActionCode,
  type LikeTarget,
  parseId,
  parseTargetType,
  type SetLikeCommand,
  targetKey,
} from "./like.ts";

const video42: LikeTarget = { type: "video", id: "42" };
const at = new Date("2024-05-01T12:00:00.000Z");

function command(action: LikeActionCode, target: LikeTarget = video42): SetLikeCommand {
  return { userId: "7", target, action, at };
}

Deno.test("parseId accepts a positive decimal id and returns it as text", () => {
  // given a plain positive id
  // when it is parsed, then the same text comes back
  assert.equal(parseId("42"), "42");
  assert.equal(parseId("1"), "1");
});

Deno.test("parseId rejects zero, a leading zero and a negative number", () => {
  // given texts that are not canonical positive ids
  // when they are parsed, then none is accepted
  assert.equal(parseId("0"), undefined);
  assert.equal(parseId("042"), undefined);
  assert.equal(parseId("-5"), undefined);
});

Deno.test("parseId rejects non-numeric text and other values", () => {
  // given values that are not digits
  // when they are parsed, then none is accepted
  const notIds = ["abc", "12a", "4 2", " 42", "42 ", "", "1e3", "4.2", null, undefined, {}, ["42"], true];
  for (const raw of notIds) {
    assert.equal(parseId(raw), undefined, `parseId(${JSON.stringify(raw)})`);
  }
});

Deno.test("parseId accepts exactly the int64 maximum and rejects anything larger", () => {
  // given the largest signed 64-bit value and values just above it
  // when they are parsed
  // then the maximum is kept exactly (no float rounding), the larger ones are rejected
  assert.equal(parseId("9223372036854775807"), "9223372036854775807");
  assert.equal(parseId("9223372036854775808"), undefined);
  assert.equal(parseId("9999999999999999999"), undefined);
  assert.equal(parseId("10000000000000000000"), undefined, "20 digits");
});

Deno.test("parseId accepts safe positive integer numbers and rejects other numbers", () => {
  // given numbers rather than strings
  // when they are parsed
  // then a safe positive integer becomes its decimal text; zero, negatives, fractions and unsafe values do not
  assert.equal(parseId(42), "42");
  assert.equal(parseId(Number.MAX_SAFE_INTEGER), String(Number.MAX_SAFE_INTEGER));
  assert.equal(parseId(0), undefined);
  assert.equal(parseId(-1), undefined);
  assert.equal(parseId(1.5), undefined);
  assert.equal(parseId(Number.MAX_SAFE_INTEGER + 1), undefined);
  assert.equal(parseId(Number.NaN), undefined);
  assert.equal(parseId(Infinity), undefined);
});

Deno.test("parseTargetType maps singular and plural words to a target type", () => {
  // given the route and body words
  // when they are parsed, then each maps to its singular type
  assert.equal(parseTargetType("video"), "video");
  assert.equal(parseTargetType("videos"), "video");
  assert.equal(parseTargetType("comment"), "comment");
  assert.equal(parseTargetType("comments"), "comment");
});

Deno.test("parseTargetType rejects unknown words and non-strings", () => {
  // given words and values that name no target type
  // when they are parsed, then none is accepted
  for (const raw of ["user", "users", "", "s", "videoss", "Video", "VIDEOS", 1, null, undefined, ["video"]]) {
    assert.equal(parseTargetType(raw), undefined, `parseTargetType(${JSON.stringify(raw)})`);
  }
});

Deno.test("decideLike: liking a target not liked yet records a LikeAdded with action 1", () => {
  // given a like command for a target the user does not like
  const like = command(LikeAction.like);

  // when the decision is made
  const decision = decideLike(like, false);

  // then a LikeAdded event carries the command's user, target, action and time
  assert.deepEqual(decision, {
    ok: true,
    event: { type: "LikeAdded", userId: "7", target: video42, action: 1, at },
  });
});

Deno.test("decideLike: liking a target already liked changes nothing", () => {
  // given a like command for a target the user already likes
  // when the decision is made
  const decision = decideLike(command(LikeAction.like), true);

  // then it is refused as already_liked
  assert.deepEqual(decision, { ok: false, reason: "already_liked" });
});

Deno.test("decideLike: unliking a liked target records a LikeRemoved with action 2", () => {
  // given an unlike command for a comment the user likes
  const comment: LikeTarget = { type: "comment", id: "9" };

  // when the decision is made
  const decision = decideLike(command(LikeAction.unlike, comment), true);

  // then a LikeRemoved event is recorded
  assert.deepEqual(decision, {
    ok: true,
    event: { type: "LikeRemoved", userId: "7", target: comment, action: 2, at },
  });
});

Deno.test("decideLike: unliking a target not liked changes nothing", () => {
  // given an unlike command for a target the user does not like
  // when the decision is made
  const decision = decideLike(command(LikeAction.unlike), false);

  // then it is refused as not_liked
  assert.deepEqual(decision, { ok: false, reason: "not_liked" });
});

Deno.test("countDeltas folds several events on a hot target into one delta", () => {
  // given three likes and one unlike on the same video (distinct target objects with equal values)
  const events = [
    { target: { type: "video" as const, id: "42" }, action: LikeAction.like },
    { target: { type: "video" as const, id: "42" }, action: LikeAction.like },
    { target: { type: "video" as const, id: "42" }, action: LikeAction.unlike },
    { target: { type: "video" as const, id: "42" }, action: LikeAction.like },
  ];

  // when they are folded
  const deltas = countDeltas(events);

  // then one entry holds the net change
  assert.deepEqual(deltas, [{ target: video42, delta: 2 }]);
});

Deno.test("countDeltas keeps an entry with delta 0 when a like and an unlike cancel out", () => {
  // given a like then an unlike of the same video
  const events = [
    { target: video42, action: LikeAction.like },
    { target: video42, action: LikeAction.unlike },
  ];

  // when they are folded
  // then the target is still listed, with a zero change
  assert.deepEqual(countDeltas(events), [{ target: video42, delta: 0 }]);
});

Deno.test("countDeltas keeps distinct targets apart, including a video and a comment with the same id", () => {
  // given events on video 42, comment 42 and video 43
  const comment42: LikeTarget = { type: "comment", id: "42" };
  const video43: LikeTarget = { type: "video", id: "43" };
  const events = [
    { target: video42, action: LikeAction.like },
    { target: comment42, action: LikeAction.unlike },
    { target: video43, action: LikeAction.like },
    { target: video42, action: LikeAction.like },
  ];

  // when they are folded
  const deltas = countDeltas(events);

  // then each target has its own delta, in order of first appearance
  assert.deepEqual(deltas, [
    { target: video42, delta: 2 },
    { target: comment42, delta: -1 },
    { target: video43, delta: 1 },
  ]);
});

Deno.test("countDeltas of no events is empty", () => {
  // given no events, when folded, then there is no delta
  assert.deepEqual(countDeltas([]), []);
});

Deno.test("targetKey joins the type and the id", () => {
  // given a video and a comment with a large id
  // when their keys are made, then they read type:id and differ by type
  assert.equal(targetKey(video42), "video:42");
  assert.equal(targetKey({ type: "comment", id: "9223372036854775807" }), "comment:9223372036854775807");
  assert.notEqual(targetKey({ type: "comment", id: "42" }), targetKey(video42));
});
