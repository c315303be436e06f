/** Contract of the login throttle (rate-limiter-flexible on Redis and in process memory). */
import assert from "node:assert/strict";
import type { LoginThrottle } from "../../application/usercenter/ports.ts";
import type { ThrottleBudget } from "../../adapters/redis/usercenter/login_throttle.ts";

/** The budgets every adapter is opened with: 3 failures per account, 5 per address, in a 60 s window. */
export const budgets: Readonly<Record<"account" | "address", ThrottleBudget>> = {
  account: { failures: 3, windowSeconds: 60 },
  address: { failures: 5, windowSeconds: 60 },
};

/** Registers the login-throttle contract for one adapter, opened with `budgets`. */
export function loginThrottleContract(
  name: string,
  open: () => Promise<{ throttle: LoginThrottle; close(): Promise<void> }>,
) {
  /** Fails `times` times on `keys`, returning what each `fail` answered. */
  async function failTimes(throttle: LoginThrottle, keys: readonly string[], times: number) {
    const answers: number[] = [];
    for (let i = 0; i < times; i++) answers.push(await throttle.fail(keys));
    return answers;
  }

  Deno.test(`${name}: keys without failures are not blocked`, async () => {
    const { throttle, close } = await open();
    try {
      assert.equal(await throttle.blockedFor(["account:x", "address:203.0.113.7"]), 0);
      assert.equal(await throttle.blockedFor([]), 0);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: an account that spent its failures is blocked for at most the window`, async () => {
    const { throttle, close } = await open();
    try {
      await failTimes(throttle, ["account:x"], budgets.account.failures - 1);
      assert.equal(await throttle.blockedFor(["account:x"]), 0, "one failure left");
      await throttle.fail(["account:x"]);
      const seconds = await throttle.blockedFor(["account:x"]);
      assert.ok(seconds > 0 && seconds <= budgets.account.windowSeconds, `blocked for ${seconds} s`);
      assert.ok(Number.isInteger(seconds), "whole seconds, as Retry-After takes them");
      // one blocked key blocks the attempt
      assert.equal(await throttle.blockedFor(["account:y", "account:x"]), seconds);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: other keys are unaffected, an address with the same id too`, async () => {
    const { throttle, close } = await open();
    try {
      await failTimes(throttle, ["account:x"], budgets.account.failures);
      assert.ok((await throttle.blockedFor(["account:x"])) > 0);
      assert.equal(await throttle.blockedFor(["account:y"]), 0);
      assert.equal(await throttle.blockedFor(["address:x"]), 0);
      assert.equal(await throttle.blockedFor(["account:x2"]), 0);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: an address has its own budget, counted across accounts`, async () => {
    const { throttle, close } = await open();
    try {
      const address = "address:198.51.100.1";
      // given failures for a different account each time: no account reaches its budget
      for (let i = 0; i < budgets.address.failures - 1; i++) {
        await throttle.fail([`account:guess${i}`, address]);
      }
      assert.equal(await throttle.blockedFor([address]), 0, "the address has one failure left");
      assert.equal(await throttle.blockedFor(["account:guess0"]), 0);
      // when the address spends its last one, then it is blocked, for any account
      await throttle.fail(["account:another", address]);
      assert.ok((await throttle.blockedFor(["account:fresh", address])) > 0);
      assert.equal(await throttle.blockedFor(["account:fresh", "address:198.51.100.2"]), 0);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: reset forgets an account's failures, not the address's`, async () => {
    const { throttle, close } = await open();
    try {
      const keys = ["account:x", "address:203.0.113.7"];
      await failTimes(throttle, keys, budgets.account.failures);
      assert.ok((await throttle.blockedFor(["account:x"])) > 0);
      await throttle.reset("account:x");
      assert.equal(await throttle.blockedFor(["account:x"]), 0);
      // the address still counts its failures: two more spend its budget of five
      await failTimes(throttle, ["address:203.0.113.7"], budgets.address.failures - budgets.account.failures);
      assert.ok((await throttle.blockedFor(["address:203.0.113.7"])) > 0);
      await throttle.reset("account:never-failed");
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: fail answers 0 while failures are left, and the wait once the key is blocked`, async () => {
    const { throttle, close } = await open();
    try {
      const keys = ["account:x"];
      const left = await failTimes(throttle, keys, budgets.account.failures - 1);
      assert.deepEqual(left, left.map(() => 0));
      const spending = await throttle.fail(keys); // spends the budget
      assert.ok(spending > 0, "the failure that spends the budget answers the wait");
      assert.ok((await throttle.blockedFor(keys)) > 0);
      const waiting = await throttle.fail(keys);
      assert.ok(waiting > 0 && waiting <= budgets.account.windowSeconds, `fail answered ${waiting}`);
    } finally {
      await close();
    }
  });
}
