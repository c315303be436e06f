import assert from "node:assert/strict";
import { z } from "zod";
import {
  createEnvelope,
  decodeEnvelope,
  type EventDefinition,
  payloadOf,
  PoisonMessageError,
} from "./envelope.ts";

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function sample() {
  return createEnvelope({
    eventType: "OrderPlaced",
    aggregateType: "order",
    aggregateId: "order:1",
    payload: { orderId: "1", total: 25 },
    headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
  });
}

/** Asserts that decoding throws a PoisonMessageError whose message matches `why`. */
function assertPoison(value: Uint8Array | string | null, why: RegExp): void {
  assert.throws(() => decodeEnvelope(value), (error) => {
    assert.ok(error instanceof PoisonMessageError, `expected PoisonMessageError, got ${error}`);
    assert.equal(error.name, "PoisonMessageError");
    assert.match(error.message, why);
    return true;
  });
}

Deno.test("createEnvelope fills in a UUIDv7 id, an ISO time and version 1", () => {
  // given a new event with no id, time or version
  const before = Date.now();

  // when it is wrapped
  const envelope = sample();

  // then the id is a version-7 UUID, the time is ISO 8601 and now, the version defaults to 1
  assert.match(envelope.eventId, uuidV7);
  assert.equal(envelope.eventId[14], "7", "version nibble");
  assert.equal(new Date(envelope.occurredAt).toISOString(), envelope.occurredAt);
  assert.ok(
    Date.parse(envelope.occurredAt) >= before - 1 && Date.parse(envelope.occurredAt) <= Date.now() + 1,
  );
  assert.equal(envelope.version, 1);
  assert.equal(envelope.eventType, "OrderPlaced");
  assert.equal(envelope.aggregateType, "order");
  assert.equal(envelope.aggregateId, "order:1");
  assert.deepEqual(envelope.payload, { orderId: "1", total: 25 });
  assert.deepEqual(envelope.headers, {
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  });
});

Deno.test("createEnvelope gives each event its own time-ordered id", () => {
  // given many events created one after another
  // when they are wrapped
  const ids = Array.from({ length: 50 }, () => sample().eventId);

  // then the ids are distinct and sort in creation order
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
});

Deno.test("createEnvelope keeps a given id, time and version, and copies the headers", () => {
  // given an event with its own id, time, version and headers
  const headers = { "x-request-id": "r1" };
  const at = new Date("2024-05-01T12:00:00.000Z");

  // when it is wrapped
  const envelope = createEnvelope({
    eventId: "0190a5c4-8a4b-7c3d-9e2f-0123456789ab",
    eventType: "T",
    version: 3,
    aggregateType: "a",
    aggregateId: "a:1",
    payload: null,
    occurredAt: at,
    headers,
  });

  // then they are kept, and the headers are a copy
  assert.equal(envelope.eventId, "0190a5c4-8a4b-7c3d-9e2f-0123456789ab");
  assert.equal(envelope.version, 3);
  assert.equal(envelope.occurredAt, "2024-05-01T12:00:00.000Z");
  assert.deepEqual(envelope.headers, headers);
  assert.notEqual(envelope.headers, headers);
});

Deno.test("decodeEnvelope round-trips a created envelope from a string", () => {
  // given a created envelope serialised as JSON text
  const envelope = sample();

  // when it is decoded
  const decoded = decodeEnvelope(JSON.stringify(envelope));

  // then it equals the original
  assert.deepEqual(decoded, envelope);
});

Deno.test("decodeEnvelope round-trips a created envelope from bytes", () => {
  // given a created envelope serialised as UTF-8 bytes, with non-ASCII text in the payload
  const envelope = createEnvelope({
    eventType: "Commented",
    aggregateType: "video",
    aggregateId: "video:42",
    payload: { text: "très bien 👍" },
  });
  const bytes = new TextEncoder().encode(JSON.stringify(envelope));

  // when it is decoded
  // then it equals the original
  assert.deepEqual(decodeEnvelope(bytes), envelope);
});

Deno.test("decodeEnvelope defaults missing headers to an empty object", () => {
  // given an envelope on the wire without headers
  const { headers: _headers, ...withoutHeaders } = sample();

  // when it is decoded, then headers are {}
  assert.deepEqual(decodeEnvelope(JSON.stringify(withoutHeaders)).headers, {});
});

Deno.test("decodeEnvelope rejects a message without a value", () => {
  assertPoison(null, /no value/);
});

Deno.test("decodeEnvelope rejects a value that is not JSON", () => {
  // given text and bytes that do not parse as JSON
  // when decoded, then the error says it is not JSON
  assertPoison("{not json", /not JSON/);
  assertPoison(new TextEncoder().encode("hello"), /not JSON/);
  assertPoison("", /not JSON/);
});

Deno.test("decodeEnvelope rejects JSON that is not an envelope", () => {
  // given JSON values of the wrong shape
  // when decoded, then the error says the envelope is invalid
  assertPoison("null", /invalid envelope/);
  assertPoison("42", /invalid envelope/);
  assertPoison("[]", /invalid envelope/);
});

Deno.test("decodeEnvelope rejects an envelope with a missing field and names the field", () => {
  // given envelopes each missing one required field
  for (const field of ["eventId", "eventType", "version", "occurredAt", "aggregateType", "aggregateId"]) {
    const wire: Record<string, unknown> = { ...sample() };
    delete wire[field];

    // when decoded, then the error names the missing field
    assertPoison(JSON.stringify(wire), new RegExp(`invalid envelope[\\s\\S]*${field}`));
  }
});

Deno.test("decodeEnvelope rejects a bad event id, version or time", () => {
  // given envelopes with a malformed field
  const cases: [string, unknown][] = [
    ["eventId", "not-a-uuid"],
    ["eventId", 42],
    ["version", 0],
    ["version", 1.5],
    ["version", "1"],
    ["occurredAt", "yesterday"],
    ["eventType", ""],
    ["headers", { "trace-id": 7 }],
  ];
  for (const [field, value] of cases) {
    const wire = { ...sample(), [field]: value };

    // when decoded, then the error names the field
    assertPoison(JSON.stringify(wire), new RegExp(`invalid envelope[\\s\\S]*${field}`));
  }
});

const orderPlaced: EventDefinition<{ orderId: string; total: number }> = {
  eventType: "OrderPlaced",
  version: 1,
  payload: z.object({ orderId: z.string(), total: z.number().nonnegative() }),
};

Deno.test("payloadOf returns a payload that fits the definition", () => {
  // given a decoded envelope with a good payload
  const envelope = decodeEnvelope(JSON.stringify(sample()));

  // when it is narrowed, then the typed payload comes back
  const payload = payloadOf(envelope, orderPlaced);
  assert.deepEqual(payload, { orderId: "1", total: 25 });
});

Deno.test("payloadOf rejects a payload that does not fit, naming the event type and field", () => {
  // given an envelope whose payload has a negative total and no orderId
  const envelope = createEnvelope({
    eventType: "OrderPlaced",
    aggregateType: "order",
    aggregateId: "order:1",
    payload: { total: -3 },
  });

  // when it is narrowed
  // then a PoisonMessageError names the event type and the bad fields
  assert.throws(() => payloadOf(envelope, orderPlaced), (error) => {
    assert.ok(error instanceof PoisonMessageError);
    assert.match(error.message, /invalid OrderPlaced payload/);
    assert.match(error.message, /orderId/);
    assert.match(error.message, /total/);
    return true;
  });
});

Deno.test("decodeEnvelope lower-cases the event id, so the inbox recognizes an upper-case id as the same event", () => {
  const envelope = createEnvelope({ eventType: "T", aggregateType: "t", aggregateId: "1", payload: {} });
  const upper = JSON.stringify({ ...envelope, eventId: envelope.eventId.toUpperCase() });
  assert.equal(decodeEnvelope(upper).eventId, envelope.eventId);
});
