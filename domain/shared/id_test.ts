import assert from "node:assert/strict";
import { parseId } from "./id.ts";

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
