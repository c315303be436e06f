import assert from "node:assert/strict";
import { detectAnomalies, type LoginAttempt } from "./anomaly.ts";

const rules = { burstFailures: 3, burstWindowMs: 10 * 60_000 };
const now = new Date("2024-05-01T12:00:00.000Z");
const firefox = "Mozilla/5.0 Firefox/126.0";
const curl = "curl/8.7.1";

/** An attempt `minutesAgo` before `now`. */
function attempt(
  succeeded: boolean,
  minutesAgo: number,
  seen: { address?: string; userAgent?: string } = {},
): LoginAttempt {
  return {
    succeeded,
    address: seen.address ?? "203.0.113.7",
    userAgent: seen.userAgent ?? firefox,
    at: new Date(now.getTime() - minutesAgo * 60_000),
  };
}
const signIn = (minutesAgo: number, seen?: { address?: string; userAgent?: string }) =>
  attempt(true, minutesAgo, seen);
const failure = (minutesAgo: number, seen?: { address?: string; userAgent?: string }) =>
  attempt(false, minutesAgo, seen);

Deno.test("detectAnomalies: a first sign-in is no anomaly, there is nothing to compare with", () => {
  assert.deepEqual(detectAnomalies(signIn(0), [], rules), []);
  // failures from elsewhere are not sign-ins the account made
  assert.deepEqual(detectAnomalies(signIn(0), [failure(5, { address: "198.51.100.1" })], rules), []);
});

Deno.test("detectAnomalies: a sign-in from a known address and browser is no anomaly", () => {
  const history = [signIn(60 * 24), signIn(60, { address: "198.51.100.1", userAgent: curl })];
  assert.deepEqual(detectAnomalies(signIn(0), history, rules), []);
  assert.deepEqual(
    detectAnomalies(signIn(0, { address: "198.51.100.1", userAgent: curl }), history, rules),
    [],
  );
});

Deno.test("detectAnomalies: a sign-in from a new address is reported", () => {
  assert.deepEqual(detectAnomalies(signIn(0, { address: "198.51.100.1" }), [signIn(60)], rules), [
    { kind: "new-address", detail: "first sign-in from 198.51.100.1" },
  ]);
});

Deno.test("detectAnomalies: a sign-in with a new user agent is reported", () => {
  assert.deepEqual(detectAnomalies(signIn(0, { userAgent: curl }), [signIn(60)], rules), [
    { kind: "new-user-agent", detail: `first sign-in with "${curl}"` },
  ]);
});

Deno.test("detectAnomalies: a new address and a new user agent are both reported", () => {
  const kinds = detectAnomalies(signIn(0, { address: "198.51.100.1", userAgent: curl }), [signIn(60)], rules)
    .map((a) => a.kind);
  assert.deepEqual(kinds, ["new-address", "new-user-agent"]);
});

Deno.test("detectAnomalies: an address seen only in a failure, or only later, is still new", () => {
  const elsewhere = { address: "198.51.100.1" };
  assert.deepEqual(
    detectAnomalies(signIn(0, elsewhere), [signIn(60), failure(1, elsewhere)], rules).map((a) => a.kind),
    ["new-address"],
  );
  // history comes in any order; a sign-in after this one does not make its address known
  assert.deepEqual(
    detectAnomalies(signIn(0, elsewhere), [signIn(-5, elsewhere), signIn(60)], rules).map((a) => a.kind),
    ["new-address"],
  );
});

Deno.test("detectAnomalies: a burst is reported once, by the failure that reaches it", () => {
  const burst = [{ kind: "failure-burst", detail: "3 failed sign-ins within 10 min" }];
  // given failures 2 and 1 minutes ago (history newest first, as the store returns it)
  assert.deepEqual(detectAnomalies(failure(2), [], rules), []);
  assert.deepEqual(detectAnomalies(failure(1), [failure(2)], rules), []);
  // when the third fails, then the burst is reported
  assert.deepEqual(detectAnomalies(failure(0), [failure(1), failure(2)], rules), burst);
  // and not again at the next failure
  const next = { ...failure(0), at: new Date(now.getTime() + 30_000) };
  assert.deepEqual(detectAnomalies(next, [failure(0), failure(1), failure(2)], rules), []);
});

Deno.test("detectAnomalies: failures outside the window and successful sign-ins are not counted", () => {
  // 10 minutes ago is the window's edge: outside
  assert.deepEqual(
    detectAnomalies(failure(0), [failure(1), failure(10), failure(11), failure(60)], rules),
    [],
  );
  assert.deepEqual(detectAnomalies(failure(0), [failure(1), signIn(2), signIn(3)], rules), []);
  // failures after this attempt (history in any order) are not counted either
  assert.deepEqual(detectAnomalies(failure(0), [failure(-1), failure(1)], rules), []);
  // just inside the window they are
  assert.deepEqual(
    detectAnomalies(failure(0), [failure(1), failure(9.99)], rules).map((a) => a.kind),
    ["failure-burst"],
  );
});

Deno.test("detectAnomalies: a failed attempt is never a new-address or new-user-agent anomaly", () => {
  assert.deepEqual(
    detectAnomalies(failure(0, { address: "198.51.100.1", userAgent: curl }), [signIn(60)], rules),
    [],
  );
});
