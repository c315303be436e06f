import assert from "node:assert/strict";
import { bucketOf, defaultBucketCount, envelopeHeaders } from "./buckets.ts";

Deno.test("bucketOf gives the same bucket for the same key every time", () => {
  // given a few keys
  for (const key of ["video:42", "comment:9223372036854775807", "", "ünïcödé:1"]) {
    // when their bucket is computed twice, then it is the same
    assert.equal(bucketOf(key), bucketOf(key), key);
    assert.equal(bucketOf(key, 7), bucketOf(key, 7), key);
  }
});

Deno.test("bucketOf matches the FNV-1a 32-bit hash used by every process", () => {
  // given keys with published FNV-1a 32-bit hashes ("" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968)
  // when bucketed over 2^32 buckets, then the raw hash comes back; over 64 it is the hash modulo 64
  assert.equal(bucketOf("", 2 ** 32), 0x811c9dc5);
  assert.equal(bucketOf("a", 2 ** 32), 0xe40c292c);
  assert.equal(bucketOf("foobar", 2 ** 32), 0xbf9cf968);
  assert.equal(bucketOf("foobar"), 0xbf9cf968 % 64);
});

Deno.test("bucketOf stays within [0, count)", () => {
  // given several bucket counts and many keys
  for (const count of [1, 2, 7, 64, 1000]) {
    for (let i = 0; i < 500; i++) {
      // when a key is bucketed, then the bucket is an integer in range
      const bucket = bucketOf(`video:${i}`, count);
      assert.ok(
        Number.isInteger(bucket) && bucket >= 0 && bucket < count,
        `bucketOf(video:${i}, ${count}) = ${bucket}`,
      );
    }
  }
});

Deno.test("bucketOf spreads 10 000 keys over all 64 buckets evenly", () => {
  // given 10 000 distinct target keys
  const counts = new Array<number>(defaultBucketCount).fill(0);

  // when each is bucketed over the default 64 buckets
  for (let i = 1; i <= 10_000; i++) counts[bucketOf(`${i % 2 ? "video" : "comment"}:${i}`)]++;

  // then every bucket is used and none holds more than 3 times the mean
  assert.equal(defaultBucketCount, 64);
  const mean = 10_000 / 64;
  assert.ok(counts.every((n) => n > 0), `unused bucket: ${counts}`);
  assert.ok(Math.max(...counts) <= 3 * mean, `max ${Math.max(...counts)} > 3 × mean ${mean}`);
});

Deno.test("envelopeHeaders adds the event's identity and keeps its trace headers", () => {
  // given an envelope with trace headers
  const envelope = {
    eventId: "0190a5c4-8a4b-7c3d-9e2f-0123456789ab",
    eventType: "LikeEvent",
    version: 2,
    aggregateType: "video",
    headers: { traceparent: "00-abc-def-01", "x-request-id": "r1" },
  };

  // when its Kafka headers are made
  const headers = envelopeHeaders(envelope);

  // then they hold the id, type, version (as text) and aggregate type, and the trace headers
  assert.deepEqual(headers, {
    traceparent: "00-abc-def-01",
    "x-request-id": "r1",
    "event-id": "0190a5c4-8a4b-7c3d-9e2f-0123456789ab",
    "event-type": "LikeEvent",
    "event-version": "2",
    "aggregate-type": "video",
  });
});

Deno.test("envelopeHeaders cannot be spoofed by a trace header of the same name", () => {
  // given an envelope whose own headers claim another event id
  const envelope = {
    eventId: "real",
    eventType: "LikeEvent",
    version: 1,
    aggregateType: "video",
    headers: { "event-id": "fake", "event-type": "Other" },
  };

  // when its Kafka headers are made, then the envelope's identity wins
  const headers = envelopeHeaders(envelope);
  assert.equal(headers["event-id"], "real");
  assert.equal(headers["event-type"], "LikeEvent");
});
