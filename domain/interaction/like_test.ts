import assert from "node:assert/strict";
import { fold } from "../shared/decider.ts";
import { scenario } from "../shared/scenario.ts";
import {
  countDeltas,
  LikeAction,
  type LikeActionCode,
  likeDecider,
  type LikeTarget,
  type LikeToggled,
  type SetLikeCommand,
  targetKey,
} from "./like.ts";

const video42: LikeTarget = { type: "video", id: "42" };
const at = new Date("2024-05-01T12:00:00.000Z");

const { given } = scenario(likeDecider);
const added: LikeToggled = { type: "LikeAdded", userId: "7", target: video42, action: LikeAction.like, at };
const removed: LikeToggled = { ...added, type: "LikeRemoved", action: LikeAction.unlike };

function command(action: LikeActionCode, target: LikeTarget = video42): SetLikeCommand {
  return { userId: "7", target, action, at };
}

Deno.test("likeDecider: liking a target not liked yet records a LikeAdded with action 1", () => {
  given([]).when(command(LikeAction.like)).then([
    { type: "LikeAdded", userId: "7", target: video42, action: 1, at },
  ]);
});

Deno.test("likeDecider: liking a target already liked is refused as already_liked", () => {
  given([added]).when(command(LikeAction.like)).then("already_liked");
});

Deno.test("likeDecider: unliking a liked comment records a LikeRemoved with action 2", () => {
  const comment: LikeTarget = { type: "comment", id: "9" };
  given([{ ...added, target: comment }]).when(command(LikeAction.unlike, comment)).then([
    { type: "LikeRemoved", userId: "7", target: comment, action: 2, at },
  ]);
});

Deno.test("likeDecider: unliking a target not liked is refused as not_liked", () => {
  given([]).when(command(LikeAction.unlike)).then("not_liked");
  given([added, removed]).when(command(LikeAction.unlike)).then("not_liked");
});

Deno.test("likeDecider: evolve takes the liked state from the last event", () => {
  assert.deepEqual(likeDecider.initialState, { liked: false });
  assert.deepEqual(fold(likeDecider, likeDecider.initialState, [added]), { liked: true });
  assert.deepEqual(fold(likeDecider, likeDecider.initialState, [added, removed]), { liked: false });
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
