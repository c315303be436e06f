import assert from "node:assert/strict";
import { LikeAction, type LikeToggled } from "../../domain/interaction/like.ts";
import { decodeEnvelope, payloadOf } from "../../outbox/envelope.ts";
import { likeEnvelope, likeEvent, targetOf } from "./like_event.ts";

const at = new Date("2024-05-01T12:00:00.123Z");

const videoLiked: LikeToggled = {
  type: "LikeAdded",
  userId: "7",
  target: { type: "video", id: "42" },
  action: LikeAction.like,
  at,
};

const commentUnliked: LikeToggled = {
  type: "LikeRemoved",
  userId: "9223372036854775807",
  target: { type: "comment", id: "1234567890123456789" },
  action: LikeAction.unlike,
  at,
};

Deno.test("likeEnvelope of a video like is keyed by the video and carries the seed's payload", () => {
  // given user 7 liked video 42
  // when the fact is wrapped
  const envelope = likeEnvelope(videoLiked);

  // then the envelope is a LikeEvent v1 of aggregate video:42, at the fact's time
  assert.equal(envelope.eventType, "LikeEvent");
  assert.equal(envelope.version, 1);
  assert.equal(envelope.aggregateType, "video");
  assert.equal(envelope.aggregateId, "video:42");
  assert.equal(envelope.occurredAt, "2024-05-01T12:00:00.123Z");

  // and the payload repeats the envelope's event id and names the video
  assert.deepEqual(envelope.payload, {
    eventId: envelope.eventId,
    eventType: "Like",
    timestamp: at.getTime(),
    userId: "7",
    targetType: "video",
    targetId: "42",
    videoId: "42",
    action: 1,
  });
  assert.equal("commentId" in envelope.payload, false);
});

Deno.test("likeEnvelope of a comment unlike names the comment and action 2", () => {
  // given a user unliked a comment with a large id
  // when the fact is wrapped
  const envelope = likeEnvelope(commentUnliked);

  // then it is keyed by the comment and the payload names the comment, not a video
  assert.equal(envelope.aggregateType, "comment");
  assert.equal(envelope.aggregateId, "comment:1234567890123456789");
  assert.deepEqual(envelope.payload, {
    eventId: envelope.eventId,
    eventType: "Like",
    timestamp: at.getTime(),
    userId: "9223372036854775807",
    targetType: "comment",
    targetId: "1234567890123456789",
    commentId: "1234567890123456789",
    action: 2,
  });
  assert.equal("videoId" in envelope.payload, false);
});

Deno.test("likeEnvelope keeps the trace headers it is given", () => {
  // given trace headers of the request
  // when a fact is wrapped with them, then the envelope carries them
  const envelope = likeEnvelope(videoLiked, { traceparent: "00-abc-def-01" });
  assert.deepEqual(envelope.headers, { traceparent: "00-abc-def-01" });
});

Deno.test("two wraps of the same fact get distinct event ids", () => {
  // given the same fact wrapped twice
  const first = likeEnvelope(videoLiked);
  const second = likeEnvelope(videoLiked);

  // then each envelope has its own id, repeated in its own payload
  assert.notEqual(first.eventId, second.eventId);
  assert.equal(first.payload.eventId, first.eventId);
  assert.equal(second.payload.eventId, second.eventId);
});

Deno.test("the payload of a like envelope passes the LikeEvent schema", () => {
  // given envelopes of a video like and a comment unlike
  for (const fact of [videoLiked, commentUnliked]) {
    const envelope = likeEnvelope(fact);

    // when the payload is parsed by the definition's schema
    const parsed = likeEvent.payload.safeParse(envelope.payload);

    // then it is accepted unchanged
    assert.ok(parsed.success, parsed.success ? "" : parsed.error.message);
    assert.deepEqual(parsed.data, envelope.payload);
  }
});

Deno.test("a like envelope survives the wire: JSON, decodeEnvelope, payloadOf, targetOf", () => {
  // given a comment unlike serialised as a Kafka message value
  const envelope = likeEnvelope(commentUnliked);
  const bytes = new TextEncoder().encode(JSON.stringify(envelope));

  // when a consumer decodes it and narrows the payload
  const payload = payloadOf(decodeEnvelope(bytes), likeEvent);

  // then it gets the same payload and target back
  assert.deepEqual(payload, envelope.payload);
  assert.deepEqual(targetOf(payload), { type: "comment", id: "1234567890123456789" });
});

Deno.test("the LikeEvent schema rejects a payload with a bad action or id", () => {
  // given a good payload altered in one field at a time
  const good = likeEnvelope(videoLiked).payload;
  const alterations = [
    { action: 3 },
    { userId: "0" },
    { targetId: "-1" },
    { eventType: "Unlike" },
    { eventId: "x" },
  ];
  for (const bad of alterations) {
    // when it is parsed, then it is refused
    assert.equal(likeEvent.payload.safeParse({ ...good, ...bad }).success, false, JSON.stringify(bad));
  }
});
