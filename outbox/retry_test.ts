import assert from "node:assert/strict";
import { backoffDelay, defaultRetryPolicy, type RetryPolicy, withRetries } from "./retry.ts";

/** A fast policy: 1 ms base delay, doubling, capped at 2 ms. */
const fast: RetryPolicy = { maxRetries: 3, baseDelayMs: 1, factor: 2, maxDelayMs: 2 };

/** Work that fails `failures` times with the errors made by `errorOf`, then returns "done". */
function failingThenOk(
  failures: number,
  errorOf: (attempt: number) => unknown = (n) => new Error(`fail ${n}`),
) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    work: (): Promise<string> => {
      calls++;
      return calls <= failures ? Promise.reject(errorOf(calls)) : Promise.resolve("done");
    },
  };
}

Deno.test("the default policy waits 1 s, 2 s, 4 s before retries 1, 2, 3", () => {
  // given the seed's default policy
  // when the delays of the first retries are computed
  const delays = [1, 2, 3].map((retry) => backoffDelay(defaultRetryPolicy, retry));

  // then they double from one second
  assert.deepEqual(delays, [1000, 2000, 4000]);
  assert.equal(defaultRetryPolicy.maxRetries, 3);
});

Deno.test("backoff delays stop growing at maxDelayMs", () => {
  // given the default policy, capped at 30 s
  // when late retries are computed
  // then 16 s is still below the cap, and 32 s and beyond are capped
  assert.equal(backoffDelay(defaultRetryPolicy, 5), 16_000);
  assert.equal(backoffDelay(defaultRetryPolicy, 6), 30_000);
  assert.equal(backoffDelay(defaultRetryPolicy, 50), 30_000);
  // and a small custom cap applies too
  assert.deepEqual([1, 2, 3, 4].map((retry) => backoffDelay({ ...fast, maxDelayMs: 5 }, retry)), [
    1,
    2,
    4,
    5,
  ]);
});

Deno.test("withRetries returns the value after some failures and counts the attempts", async () => {
  // given work that fails twice then succeeds
  const work = failingThenOk(2);

  // when it runs under a policy of 3 retries
  const outcome = await withRetries(fast, work.work);

  // then it succeeds on the third attempt
  assert.deepEqual(outcome, { ok: true, value: "done", attempts: 3 });
  assert.equal(work.calls, 3);
});

Deno.test("withRetries returns at once when the first attempt succeeds", async () => {
  const retries: number[] = [];
  // given work that succeeds
  // when it runs
  const outcome = await withRetries(fast, () => Promise.resolve(7), {
    onRetry: (_e, retry) => retries.push(retry),
  });
  // then one attempt was made and no retry announced
  assert.deepEqual(outcome, { ok: true, value: 7, attempts: 1 });
  assert.deepEqual(retries, []);
});

Deno.test("withRetries gives up after maxRetries + 1 attempts with the last error", async () => {
  // given work that always fails with a numbered error
  const work = failingThenOk(Infinity);

  // when it runs under a policy of 3 retries
  const outcome = await withRetries(fast, work.work);

  // then 4 attempts were made and the fourth error is returned
  assert.ok(!outcome.ok);
  assert.equal(outcome.attempts, 4);
  assert.equal(work.calls, 4);
  assert.equal((outcome.error as Error).message, "fail 4");
});

Deno.test("withRetries with maxRetries 0 tries once", async () => {
  // given work that always fails and a policy without retries
  const work = failingThenOk(Infinity);
  // when it runs
  const outcome = await withRetries({ ...fast, maxRetries: 0 }, work.work);
  // then it was tried once
  assert.equal(outcome.ok, false);
  assert.equal(outcome.attempts, 1);
  assert.equal(work.calls, 1);
});

Deno.test("a permanent error ends the retries at once", async () => {
  // given work whose first error is permanent
  class BadInput extends Error {}
  const work = failingThenOk(Infinity, () => new BadInput("bad"));

  // when it runs with isPermanent recognising that error
  const outcome = await withRetries(fast, work.work, { isPermanent: (error) => error instanceof BadInput });

  // then only one attempt was made and the error is returned
  assert.ok(!outcome.ok);
  assert.equal(outcome.attempts, 1);
  assert.ok(outcome.error instanceof BadInput);
  assert.equal(work.calls, 1);
});

Deno.test("infrastructure errors are retried beyond maxRetries until the work succeeds", async () => {
  // given work that fails 6 times with an infrastructure error, then succeeds
  class Down extends Error {}
  const work = failingThenOk(6, () => new Down("database down"));

  // when it runs under a policy allowing 1 retry, with isInfrastructure recognising the error
  const outcome = await withRetries({ ...fast, maxRetries: 1 }, work.work, {
    isInfrastructure: (error) => error instanceof Down,
  });

  // then it keeps retrying and succeeds on the 7th attempt
  assert.deepEqual(outcome, { ok: true, value: "done", attempts: 7 });
});

Deno.test("infrastructure retries do not use up the budget of ordinary retries", async () => {
  // given work that fails 3 times on the infrastructure, then always with an ordinary error
  class Down extends Error {}
  const work = failingThenOk(Infinity, (n) => n <= 3 ? new Down("down") : new Error(`fail ${n}`));

  // when it runs under a policy of 1 retry
  const outcome = await withRetries({ ...fast, maxRetries: 1 }, work.work, {
    isInfrastructure: (error) => error instanceof Down,
  });

  // then after the 3 infrastructure failures it still gets 1 ordinary retry: 5 attempts in all
  assert.ok(!outcome.ok);
  assert.equal(outcome.attempts, 5);
  assert.equal((outcome.error as Error).message, "fail 5");
});

Deno.test("onRetry is told each error, retry number and backoff delay", async () => {
  // given work that always fails, and a policy of 3 retries of 1, 2, 4 ms (cap 10 ms)
  const work = failingThenOk(Infinity);
  const seen: [string, number, number][] = [];

  // when it runs with an onRetry observer
  await withRetries({ ...fast, maxDelayMs: 10 }, work.work, {
    onRetry: (error, retry, delayMs) => seen.push([(error as Error).message, retry, delayMs]),
  });

  // then every retry was announced with its doubling delay, and none after the last attempt
  assert.deepEqual(seen, [["fail 1", 1, 1], ["fail 2", 2, 2], ["fail 3", 3, 4]]);
});

Deno.test("an abort stops the wait and returns the last failure", async () => {
  // given a policy whose first delay is an hour, and work that always fails
  const slow: RetryPolicy = { maxRetries: 3, baseDelayMs: 3_600_000, factor: 2, maxDelayMs: 3_600_000 };
  const work = failingThenOk(Infinity);
  const controller = new AbortController();

  // when the signal aborts while withRetries is waiting before a retry
  const running = withRetries(slow, work.work, {
    signal: controller.signal,
    onRetry: () => queueMicrotask(() => controller.abort()),
  });

  // then it returns without waiting out the hour (a deadline far below it, not a measured duration), with the
  // failure of the attempt after the wake-up; the test's timer sanitizer also sees the hour's timer cleared
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    running,
    new Promise<"still waiting">((resolve) => deadline = setTimeout(() => resolve("still waiting"), 10_000)),
  ]);
  clearTimeout(deadline);
  assert.notEqual(result, "still waiting", "the abort ended the hour's wait");
  if (result === "still waiting") return;
  assert.ok(!result.ok);
  assert.equal(result.attempts, 2);
  assert.equal((result.error as Error).message, "fail 2");
});

Deno.test("an already aborted signal stops after the first failure", async () => {
  // given an aborted signal and work that always fails
  const controller = new AbortController();
  controller.abort();
  const work = failingThenOk(Infinity);

  // when it runs
  const outcome = await withRetries(fast, work.work, { signal: controller.signal });

  // then no retry is made
  assert.equal(outcome.ok, false);
  assert.equal(outcome.attempts, 1);
  assert.equal(work.calls, 1);
});

Deno.test("infrastructure retries wait at most maxDelayMs and are announced as such", async () => {
  // given work that fails 5 times on the infrastructure, then succeeds, and a policy without ordinary retries
  class Down extends Error {}
  const work = failingThenOk(5, () => new Down("read-only"));
  const seen: [number, boolean][] = [];

  // when it runs with delays of 1, 2, 4... ms capped at 3 ms
  const outcome = await withRetries({ ...fast, maxRetries: 0, maxDelayMs: 3 }, work.work, {
    isInfrastructure: (error) => error instanceof Down,
    onRetry: (_error, _retry, delayMs, infrastructure) => seen.push([delayMs, infrastructure]),
  });

  // then it succeeded, the delays stopped growing at the cap, and each retry was flagged as an outage's
  assert.deepEqual(outcome, { ok: true, value: "done", attempts: 6 });
  assert.deepEqual(seen, [[1, true], [2, true], [3, true], [3, true], [3, true]]);
});
